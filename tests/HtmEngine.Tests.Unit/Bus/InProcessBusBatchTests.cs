using System.Collections.Concurrent;
using System.Text;
using HtmEngine.Bus;

namespace HtmEngine.Tests.Unit.Bus;

/// <summary>Batch consume on the in-process bus: what a batch holds, and when and how its messages are settled.</summary>
public sealed class InProcessBusBatchTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private static OutgoingMessage Message(int i, int size = 0) =>
        new(size == 0 ? Encoding.UTF8.GetBytes($"m{i}") : new byte[size], $"id{i}");

    private static async Task<InProcessMessageBus> BusWithAsync(int messages, int size = 0)
    {
        var bus = new InProcessMessageBus();
        await bus.DeclareQueueAsync("q");
        var batch = new OutgoingMessage[messages];
        for (int i = 0; i < messages; i++)
        {
            batch[i] = Message(i, size);
        }

        await bus.PublishToQueueAsync("q", batch);
        return bus;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Messages_waiting_while_a_batch_is_handled_come_together_in_the_next_one_in_order()
    {
        await using var bus = await BusWithAsync(1);
        var batches = new ConcurrentQueue<string[]>();
        var release = new TaskCompletionSource();
        await using var sub = await bus.ConsumeBatchAsync("q", async (messages, _) =>
        {
            batches.Enqueue([.. messages.Select(m => m.MessageId!)]);
            if (batches.Count == 1)
            {
                await release.Task;
            }

            return [.. messages.Select(_ => ConsumeOutcome.Ack)];
        }, new BatchConsumerOptions(MaxMessages: 64));
        await WaitUntilAsync(() => batches.Count == 1);

        // Published while the first batch is in hand: all of them wait, and the next batch takes them all.
        await bus.PublishToQueueAsync("q", [.. Enumerable.Range(1, 40).Select(i => Message(i))]);
        await WaitUntilAsync(() => bus.GetReadyCountAsync("q").Result == 0); // all taken into the prefetch
        await Task.Delay(100);
        release.SetResult();
        await WaitUntilAsync(() => batches.Sum(b => b.Length) == 41);

        var all = batches.ToArray();
        Assert.Equal(["id0"], all[0]);
        Assert.Equal(2, all.Length);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"id{i}"), all[1]);
    }

    [Fact]
    public async Task A_batch_never_exceeds_its_message_count_or_byte_limit_but_always_holds_one_message()
    {
        await using var bus = await BusWithAsync(30, size: 100);
        await bus.PublishToQueueAsync("q", [Message(30, size: 1000)]);
        var batches = new ConcurrentQueue<int[]>();
        var release = new TaskCompletionSource();
        await using var sub = await bus.ConsumeBatchAsync("q", async (messages, _) =>
        {
            await release.Task;
            batches.Enqueue([.. messages.Select(m => m.Body.Length)]);
            return [.. messages.Select(_ => ConsumeOutcome.Ack)];
        }, new BatchConsumerOptions(MaxMessages: 8, MaxBytes: 350, Prefetch: 64));
        await Task.Delay(200);
        release.SetResult();
        await WaitUntilAsync(() => batches.Sum(b => b.Length) == 31);

        foreach (int[] batch in batches)
        {
            Assert.InRange(batch.Length, 1, 8);
            Assert.True(batch.Length == 1 || batch.Sum() <= 350, $"a batch of {batch.Length} messages holds {batch.Sum()} bytes");
        }

        Assert.Contains(batches, b => b.Length == 3); // the byte limit, not the count, ends these
        Assert.Equal([1000], batches.Last()); // larger than the limit, still delivered alone
    }

    [Fact]
    public async Task A_failed_batch_is_redelivered_whole_and_each_message_is_acknowledged_exactly_once()
    {
        await using var bus = await BusWithAsync(10);
        var acked = new ConcurrentDictionary<string, int>();
        var attempts = new ConcurrentDictionary<string, int>();
        int calls = 0;
        await using var sub = await bus.ConsumeBatchAsync("q", (messages, _) =>
        {
            foreach (var m in messages)
            {
                attempts[m.MessageId!] = m.FailedAttempts;
            }

            if (Interlocked.Increment(ref calls) == 1)
            {
                // Before the (pretend) commit: nothing of this batch may be acknowledged.
                throw new IOException("injected failure before commit");
            }

            foreach (var m in messages)
            {
                acked.AddOrUpdate(m.MessageId!, 1, (_, n) => n + 1);
            }

            return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>([.. messages.Select(_ => ConsumeOutcome.Ack)]);
        }, new BatchConsumerOptions(MaxMessages: 64));
        await WaitUntilAsync(() => acked.Count == 10);
        await Task.Delay(200);

        Assert.All(acked.Values, n => Assert.Equal(1, n));
        Assert.Contains(attempts.Values, a => a == 1); // the first batch came back with its failure counted
        Assert.Equal(0, await bus.GetReadyCountAsync("q"));
        Assert.Equal(0, await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName("q")));
    }

    [Fact]
    public async Task Each_message_of_a_batch_is_settled_by_its_own_outcome()
    {
        await using var bus = await BusWithAsync(6);
        var seen = new ConcurrentQueue<string>();
        await using var sub = await bus.ConsumeBatchAsync("q", (messages, _) =>
        {
            var outcomes = new ConsumeOutcome[messages.Count];
            for (int i = 0; i < messages.Count; i++)
            {
                seen.Enqueue(messages[i].MessageId!);
                outcomes[i] = messages[i].MessageId == "id3" ? ConsumeOutcome.DeadLetter : ConsumeOutcome.Ack;
            }

            return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>(outcomes);
        }, new BatchConsumerOptions());
        await WaitUntilAsync(() => bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName("q")).Result == 1);
        await Task.Delay(200);

        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"id{i}"), seen); // each delivered once: none was requeued
        Assert.Equal(0, await bus.GetReadyCountAsync("q"));
    }

    [Fact]
    public async Task A_handler_returning_the_wrong_number_of_outcomes_has_its_batch_failed_not_acknowledged()
    {
        await using var bus = await BusWithAsync(3);
        int deliveries = 0;
        await using var sub = await bus.ConsumeBatchAsync("q", (messages, _) =>
        {
            Interlocked.Add(ref deliveries, messages.Count);
            return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>([]);
        }, new BatchConsumerOptions(MaxFailedAttempts: 2));
        await WaitUntilAsync(() => bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName("q")).Result == 3);

        Assert.Equal(0, await bus.GetReadyCountAsync("q"));
        Assert.Equal(6, Volatile.Read(ref deliveries)); // each failed twice, then dead-lettered
    }

    [Fact]
    public async Task Disposing_during_a_batch_hands_the_batch_back_unsettled()
    {
        await using var bus = await BusWithAsync(5);
        var started = new TaskCompletionSource();
        var sub = await bus.ConsumeBatchAsync("q", async (messages, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            return [];
        }, new BatchConsumerOptions());
        await started.Task.WaitAsync(s_wait);
        await sub.DisposeAsync();

        Assert.Equal(5, await bus.GetReadyCountAsync("q"));
        var redelivered = new ConcurrentQueue<BusMessage>();
        await using var again = await bus.ConsumeBatchAsync("q", (messages, _) =>
        {
            foreach (var m in messages)
            {
                redelivered.Enqueue(m);
            }

            return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>([.. messages.Select(_ => ConsumeOutcome.Ack)]);
        }, new BatchConsumerOptions());
        await WaitUntilAsync(() => redelivered.Count == 5);
        Assert.All(redelivered, m => Assert.Equal(0, m.FailedAttempts)); // handed back, not failed
        Assert.Equal(5, redelivered.Select(m => m.MessageId).Distinct().Count());
    }

    [Fact]
    public async Task Disposing_during_a_batch_hands_everything_back_in_queue_order_and_takes_nothing_more()
    {
        // The storer relies on this: a message handed back behind later ones would have its samples rejected as out
        // of order. The handler's cancellation runs before the waiting pump's (callbacks run newest first), so the
        // batch in hand goes back while the pump may still be waiting for messages; it must not take it again.
        for (int round = 0; round < 10; round++)
        {
            await using var bus = await BusWithAsync(3);
            var started = new TaskCompletionSource();
            var parked = new TaskCompletionSource();
            var sub = await bus.ConsumeBatchAsync("q", async (messages, ct) =>
            {
                started.TrySetResult();
                await parked.Task;
                await Task.Delay(Timeout.Infinite, ct);
                return [];
            }, new BatchConsumerOptions(MaxMessages: 1, Prefetch: 8));
            await started.Task.WaitAsync(s_wait);
            await WaitUntilAsync(() => bus.GetReadyCountAsync("q").Result == 0); // all three taken into the prefetch
            await Task.Delay(20); // the pump waits for more, registered on the stop token before the handler is
            parked.SetResult();
            await Task.Delay(20);
            await sub.DisposeAsync();

            Assert.Equal(3, await bus.GetReadyCountAsync("q"));
            var redelivered = new ConcurrentQueue<string>();
            await using var again = await bus.ConsumeBatchAsync("q", (messages, _) =>
            {
                foreach (var m in messages)
                {
                    redelivered.Enqueue(m.MessageId!);
                }

                return ValueTask.FromResult<IReadOnlyList<ConsumeOutcome>>([.. messages.Select(_ => ConsumeOutcome.Ack)]);
            }, new BatchConsumerOptions());
            await WaitUntilAsync(() => redelivered.Count == 3);
            Assert.Equal(["id0", "id1", "id2"], redelivered);
        }
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchConsumerOptions(MaxMessages: 0).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchConsumerOptions(MaxBytes: 0).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchConsumerOptions(MaxMessages: 10, Prefetch: 5).Validate());
        Assert.Equal(20, new BatchConsumerOptions(MaxMessages: 10).EffectivePrefetch);
    }
}
