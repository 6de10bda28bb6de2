using System.Collections.Concurrent;
using HtmEngine.Bus;

namespace HtmEngine.Tests.Integration.Bus;

/// <summary>The batch consume semantics both buses must share (<see cref="IMessageBus.ConsumeBatchAsync"/>).</summary>
public abstract partial class BusContract
{
    private static ValueTask<IReadOnlyList<ConsumeOutcome>> AckAll(IReadOnlyList<BusMessage> messages)
    {
        var outcomes = new ConsumeOutcome[messages.Count];
        return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>(outcomes); // Ack is the enum's default
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }

    protected Task Batch_consumer_takes_the_waiting_messages_together_in_order_within_its_limit() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [Text("first")]);
        var batches = new ConcurrentQueue<string[]>();
        var release = new TaskCompletionSource();
        await using var sub = await bus.ConsumeBatchAsync(queue, async (messages, _) =>
        {
            batches.Enqueue([.. messages.Select(Text)]);
            if (batches.Count == 1)
            {
                await release.Task; // the rest arrive while the first batch is in hand
            }

            return await AckAll(messages);
        }, new BatchConsumerOptions(MaxMessages: 16));
        await WaitUntilAsync(() => Task.FromResult(batches.Count == 1), "the first batch");
        await bus.PublishToQueueAsync(queue, [.. Enumerable.Range(0, 40).Select(i => Text($"m{i}"))]);
        await WaitUntilAsync(async () => await bus.GetReadyCountAsync(queue) <= 40 - 31, "the prefetch to fill"); // 2 × 16 − the one in hand
        await Task.Delay(300);
        release.SetResult();
        await WaitUntilAsync(() => Task.FromResult(batches.Sum(b => b.Length) == 41), "every message");

        var all = batches.ToArray();
        Assert.Equal(["first"], all[0]);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"m{i}"), all.Skip(1).SelectMany(b => b));
        Assert.All(all, b => Assert.InRange(b.Length, 1, 16));
        Assert.Equal(16, all[1].Length); // waiting messages were taken together, up to the limit
        await Task.Delay(300);
        Assert.Equal(0, await bus.GetReadyCountAsync(queue));
    });

    protected Task Failed_batch_is_redelivered_and_each_message_is_acknowledged_once() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [.. Enumerable.Range(0, 20).Select(i => Text($"m{i}"))]);
        var acked = new ConcurrentDictionary<string, int>();
        var failedAttempts = new ConcurrentDictionary<string, int>();
        int calls = 0;
        await using (var sub = await bus.ConsumeBatchAsync(queue, (messages, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new IOException("injected failure before the commit");
            }

            foreach (var m in messages)
            {
                acked.AddOrUpdate(m.MessageId!, 1, (_, n) => n + 1);
                failedAttempts[m.MessageId!] = m.FailedAttempts;
            }

            return AckAll(messages);
        }, new BatchConsumerOptions(MaxMessages: 64)))
        {
            await WaitUntilAsync(() => Task.FromResult(acked.Count == 20), "every message acknowledged");
            await Task.Delay(500);
        }

        Assert.All(acked.Values, n => Assert.Equal(1, n));
        Assert.Contains(failedAttempts.Values, n => n == 1);
        Assert.Equal(0, await bus.GetReadyCountAsync(queue));
        Assert.Equal(0, await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(queue)));
    });

    protected Task Batch_messages_are_settled_by_their_own_outcomes() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [.. Enumerable.Range(0, 8).Select(i => Text($"m{i}"))]);
        var seen = new ConcurrentQueue<string>();
        await using (var sub = await bus.ConsumeBatchAsync(queue, (messages, _) =>
        {
            var outcomes = new ConsumeOutcome[messages.Count];
            for (int i = 0; i < outcomes.Length; i++)
            {
                seen.Enqueue(Text(messages[i]));
                outcomes[i] = Text(messages[i]) == "m5" ? ConsumeOutcome.DeadLetter : ConsumeOutcome.Ack;
            }

            return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>(outcomes);
        }, new BatchConsumerOptions()))
        {
            await WaitUntilAsync(async () => await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(queue)) == 1, "the dead letter");
            await Task.Delay(500);
        }

        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"m{i}"), seen);
        Assert.Equal(0, await bus.GetReadyCountAsync(queue));
    });

    protected Task Disposing_a_batch_consumer_mid_batch_returns_the_batch_unsettled() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [.. Enumerable.Range(0, 5).Select(i => Text($"m{i}"))]);
        var started = new TaskCompletionSource();
        var sub = await bus.ConsumeBatchAsync(queue, async (messages, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            return [];
        }, new BatchConsumerOptions());
        await started.Task.WaitAsync(Wait);
        await sub.DisposeAsync();
        await WaitUntilAsync(async () => await bus.GetReadyCountAsync(queue) == 5, "the messages back in the queue");

        var again = new ConcurrentQueue<BusMessage>();
        await using (var second = await bus.ConsumeBatchAsync(queue, (messages, _) =>
        {
            foreach (var m in messages)
            {
                again.Enqueue(m);
            }

            return AckAll(messages);
        }, new BatchConsumerOptions()))
        {
            await WaitUntilAsync(() => Task.FromResult(again.Count == 5), "the redelivery");
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"m{i}"), again.Select(Text).Order());
        Assert.All(again, m => Assert.Equal(0, m.FailedAttempts));
    });
}
