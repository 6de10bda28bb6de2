using System.Collections.Concurrent;
using System.Text;
using HtmEngine.Bus;

namespace HtmEngine.Tests.Integration.Bus;

/// <summary>
/// The delivery semantics both buses must share. Each derived class runs every case against one implementation;
/// every case uses its own GUID-suffixed queue and deletes it afterwards.
/// </summary>
public abstract partial class BusContract
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    protected abstract Task<IMessageBus> CreateBusAsync();

    protected static string NewName(string what) => $"htmengine.test.{what}.{Guid.NewGuid():N}";

    protected static OutgoingMessage Text(string text, string? id = null) => new(Encoding.UTF8.GetBytes(text), id ?? text);

    protected static string Text(BusMessage message) => Encoding.UTF8.GetString(message.Body.Span);

    protected async Task WithQueueAsync(Func<IMessageBus, string, Task> test)
    {
        await using var bus = await CreateBusAsync();
        string queue = NewName("q");
        await bus.DeclareQueueAsync(queue);
        try
        {
            await test(bus, queue);
        }
        finally
        {
            await bus.DeleteQueueAsync(queue);
        }
    }

    protected Task Published_batch_is_consumed_in_order_with_ids_and_headers() => WithQueueAsync(async (bus, queue) =>
    {
        var batch = Enumerable.Range(0, 100)
            .Select(i => new OutgoingMessage(Encoding.UTF8.GetBytes($"m{i}"), $"id{i}", new Dictionary<string, string> { ["k"] = $"v{i}" }, "text/plain"))
            .ToArray();
        await bus.PublishToQueueAsync(queue, batch);
        Assert.Equal(100, await bus.GetReadyCountAsync(queue));

        var received = new List<BusMessage>();
        var done = new TaskCompletionSource();
        await using (var sub = await bus.ConsumeAsync(queue, (m, _) =>
        {
            received.Add(m);
            if (received.Count == 100)
            {
                done.TrySetResult();
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions(Prefetch: 10)))
        {
            await done.Task.WaitAsync(Wait);
        }

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"m{i}"), received.Select(Text));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"id{i}"), received.Select(m => m.MessageId));
        Assert.All(received, (m, i) => Assert.Equal($"v{i}", m.Headers["k"]));
        Assert.All(received, m => Assert.Equal("text/plain", m.ContentType));
        Assert.All(received, m => Assert.Equal(0, m.FailedAttempts));
        Assert.Equal(0, await bus.GetReadyCountAsync(queue));
    });

    protected Task Acknowledged_messages_are_not_delivered_again() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [Text("a"), Text("b")]);
        var seen = new ConcurrentQueue<string>();
        var two = new TaskCompletionSource();
        await using (var sub = await bus.ConsumeAsync(queue, (m, _) =>
        {
            seen.Enqueue(Text(m));
            if (seen.Count == 2)
            {
                two.TrySetResult();
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions()))
        {
            await two.Task.WaitAsync(Wait);
        }

        // A second consumer finds nothing.
        var again = new ConcurrentQueue<string>();
        await using (var sub = await bus.ConsumeAsync(queue, (m, _) =>
        {
            again.Enqueue(Text(m));
            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions()))
        {
            await Task.Delay(500);
        }

        Assert.Empty(again);
        Assert.Equal(0, await bus.GetReadyCountAsync(queue));
    });

    protected Task Failed_message_is_redelivered_with_its_failure_count() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [Text("x")]);
        var attempts = new ConcurrentQueue<int>();
        var done = new TaskCompletionSource();
        await using var sub = await bus.ConsumeAsync(queue, (m, _) =>
        {
            attempts.Enqueue(m.FailedAttempts);
            if (m.FailedAttempts == 0)
            {
                throw new InvalidOperationException("first try fails");
            }

            if (m.FailedAttempts == 1)
            {
                return ValueTask.FromResult(ConsumeOutcome.Retry);
            }

            Assert.Equal("x", m.MessageId);
            done.TrySetResult();
            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions(MaxFailedAttempts: 5));
        await done.Task.WaitAsync(Wait);
        Assert.Equal([0, 1, 2], attempts);
        Assert.Equal(0, await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(queue)));
    });

    protected Task Poison_message_goes_to_the_dead_letter_queue_after_N_failures_and_does_not_block_others() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [Text("poison"), Text("good1"), Text("good2")]);
        var poisonAttempts = 0;
        var good = new ConcurrentQueue<string>();
        await using (var sub = await bus.ConsumeAsync(queue, (m, _) =>
        {
            if (Text(m) == "poison")
            {
                Interlocked.Increment(ref poisonAttempts);
                throw new FormatException("cannot parse");
            }

            good.Enqueue(Text(m));
            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions(MaxFailedAttempts: 3)))
        {
            string dead = IMessageBus.DeadLetterQueueName(queue);
            var deadline = DateTime.UtcNow + Wait;
            while (await bus.GetReadyCountAsync(dead) < 1 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            await Task.Delay(300);
        }

        Assert.Equal(3, poisonAttempts);
        Assert.Equal(["good1", "good2"], good);
        Assert.Equal(1, await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(queue)));
        Assert.Equal(0, await bus.GetReadyCountAsync(queue));

        // The dead letter keeps its id and body and says how often it failed.
        var deadOne = new TaskCompletionSource<BusMessage>();
        await using var deadSub = await bus.ConsumeAsync(IMessageBus.DeadLetterQueueName(queue), (m, _) =>
        {
            deadOne.TrySetResult(m);
            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions());
        var letter = await deadOne.Task.WaitAsync(Wait);
        Assert.Equal("poison", Text(letter));
        Assert.Equal("poison", letter.MessageId);
        Assert.Equal(3, letter.FailedAttempts);
    });

    protected Task Handler_outcome_DeadLetter_moves_the_message_at_once() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [Text("bad")]);
        var calls = 0;
        await using (var sub = await bus.ConsumeAsync(queue, (m, _) =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(ConsumeOutcome.DeadLetter);
        }, new ConsumerOptions(MaxFailedAttempts: 10)))
        {
            await WaitForCountAsync(bus, IMessageBus.DeadLetterQueueName(queue), 1);
        }

        Assert.Equal(1, calls);
    });

    protected Task Prefetch_bounds_the_unsettled_deliveries() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [.. Enumerable.Range(0, 10).Select(i => Text($"p{i}"))]);
        var release = new TaskCompletionSource();
        var entered = new TaskCompletionSource();
        var handled = 0;
        await using (var sub = await bus.ConsumeAsync(queue, async (m, ct) =>
        {
            entered.TrySetResult();
            await release.Task.WaitAsync(ct);
            Interlocked.Increment(ref handled);
            return ConsumeOutcome.Ack;
        }, new ConsumerOptions(Prefetch: 3)))
        {
            await entered.Task.WaitAsync(Wait);
            await WaitForCountAsync(bus, queue, 7);
            await Task.Delay(300);
            Assert.Equal(7, await bus.GetReadyCountAsync(queue));
            release.SetResult();
            await WaitForCountAsync(bus, queue, 0);
            var deadline = DateTime.UtcNow + Wait;
            while (Volatile.Read(ref handled) < 10 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }

        Assert.Equal(10, handled);
    });

    protected Task Disposing_a_subscription_returns_unsettled_messages() => WithQueueAsync(async (bus, queue) =>
    {
        await bus.PublishToQueueAsync(queue, [Text("h1"), Text("h2"), Text("h3")]);
        var entered = new TaskCompletionSource();
        await using (var sub = await bus.ConsumeAsync(queue, async (m, ct) =>
        {
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            return ConsumeOutcome.Ack;
        }, new ConsumerOptions(Prefetch: 2)))
        {
            await entered.Task.WaitAsync(Wait);
        }

        await WaitForCountAsync(bus, queue, 3);
        var seen = new ConcurrentDictionary<string, BusMessage>();
        var all = new TaskCompletionSource();
        await using var second = await bus.ConsumeAsync(queue, (m, _) =>
        {
            seen[Text(m)] = m;
            if (seen.Count == 3)
            {
                all.TrySetResult();
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions());
        await all.Task.WaitAsync(Wait);
        Assert.True(seen["h1"].Redelivered);
        Assert.Equal(0, seen["h1"].FailedAttempts);
    });

    protected Task Deleting_the_queue_cancels_the_consumer() => WithQueueAsync(async (bus, queue) =>
    {
        await using var sub = await bus.ConsumeAsync(queue, (m, _) => ValueTask.FromResult(ConsumeOutcome.Ack), new ConsumerOptions());
        await bus.DeleteQueueAsync(queue);
        await Assert.ThrowsAsync<ConsumerCancelledException>(() => sub.Completion.WaitAsync(Wait));
        await bus.DeclareQueueAsync(queue);
    });

    protected Task Publishing_to_a_missing_queue_throws_QueueNotFound() => WithQueueAsync(async (bus, _) =>
    {
        await Assert.ThrowsAsync<QueueNotFoundException>(async () => await bus.PublishToQueueAsync(NewName("missing"), [Text("lost")]));

        // The bus stays usable afterwards.
        string queue = NewName("after");
        await bus.DeclareQueueAsync(queue);
        await bus.PublishToQueueAsync(queue, [Text("kept")]);
        Assert.Equal(1, await bus.GetReadyCountAsync(queue));
        await bus.DeleteQueueAsync(queue);
    });

    protected Task Publisher_may_reuse_the_body_memory_once_the_publish_returned() => WithQueueAsync(async (bus, queue) =>
    {
        byte[] buffer = Encoding.UTF8.GetBytes("first body");
        await bus.PublishToQueueAsync(queue, [new OutgoingMessage(buffer, "b1")]);
        Encoding.UTF8.GetBytes("other body").CopyTo(buffer, 0);
        await bus.PublishToQueueAsync(queue, [new OutgoingMessage(buffer, "b2")]);
        Array.Clear(buffer);

        var received = new ConcurrentQueue<string>();
        await using (await bus.ConsumeAsync(queue, (m, _) =>
        {
            received.Enqueue(Text(m));
            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions()))
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (received.Count < 2 && watch.Elapsed < Wait)
            {
                await Task.Delay(10);
            }
        }

        Assert.Equal(["first body", "other body"], received);
    });

    protected Task Fanout_exchange_copies_to_every_bound_queue() => WithQueueAsync(async (bus, queue) =>
    {
        string exchange = NewName("x");
        string other = NewName("q2");
        await bus.DeclareFanoutExchangeAsync(exchange);
        await bus.DeclareQueueAsync(other);
        try
        {
            await bus.BindQueueAsync(queue, exchange);
            await bus.BindQueueAsync(other, exchange);
            await bus.PublishToExchangeAsync(exchange, [Text("f1"), Text("f2")]);
            Assert.Equal(2, await bus.GetReadyCountAsync(queue));
            Assert.Equal(2, await bus.GetReadyCountAsync(other));
        }
        finally
        {
            await bus.DeleteQueueAsync(other);
            await bus.DeleteExchangeAsync(exchange);
        }
    });

    protected static async Task WaitForCountAsync(IMessageBus bus, string queue, long expected)
    {
        var deadline = DateTime.UtcNow + Wait;
        long count;
        while ((count = await bus.GetReadyCountAsync(queue)) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"queue {queue} holds {count}, expected {expected}");
            await Task.Delay(20);
        }
    }
}
