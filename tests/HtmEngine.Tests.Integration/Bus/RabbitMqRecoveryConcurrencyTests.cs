using System.Collections.Concurrent;
using System.Text;
using HtmEngine.Bus;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Integration.Bus;

/// <summary>
/// A consumer's handler is still running when the broker goes away (it waits for the broker, as a service's publish
/// does), and deliveries the client had already taken for that consumer are queued behind it. After the connection
/// recovers, the client's recovered channel delivers the requeued messages again while the old channel's dispatcher
/// may still be draining the deliveries it had queued: the bus must still hand the subscription's handler one message
/// at a time, since the services keep per-message scratch state and rely on that (issue #7).
/// </summary>
[Collection(RabbitMqRestartCollection.Name)]
public sealed class RabbitMqRecoveryConcurrencyTests(ITestOutputHelper output)
{
    [ServerFact(TestServer.RabbitMq)]
    public Task A_single_consumer_handles_one_message_at_a_time_across_a_connection_recovery() => RunAsync(batchConsumer: false);

    [ServerFact(TestServer.RabbitMq)]
    public Task A_batch_consumer_handles_one_batch_at_a_time_across_a_connection_recovery() => RunAsync(batchConsumer: true);

    private async Task RunAsync(bool batchConsumer)
    {
        var options = RabbitMqBusContractTests.Options with { RetryTimeout = TimeSpan.FromSeconds(90), ConfirmTimeout = TimeSpan.FromSeconds(5) };
        string queue = $"htmengine.test.recovery.{Guid.NewGuid():N}";
        var handled = new ConcurrentQueue<string>();
        var firstEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inFlight = 0, maxInFlight = 0, calls = 0;

        await using var bus = await RabbitMqMessageBus.ConnectAsync(options);
        await bus.DeclareQueueAsync(queue);
        var messages = Enumerable.Range(0, 10).Select(i => new OutgoingMessage(Encoding.UTF8.GetBytes("m" + i), "m" + i)).ToArray();
        await bus.PublishToQueueAsync(queue, messages);

        bool restarted = false;
        async Task HandleAsync(IEnumerable<BusMessage> delivered, CancellationToken ct)
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            foreach (var m in delivered)
            {
                handled.Enqueue($"{m.MessageId}{(m.Redelivered ? "(redelivered)" : "")} in flight {now}");
            }

            try
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    // The first call outlives the connection, as a publish that waits for the broker does.
                    firstEntered.TrySetResult();
                    await release.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
                }
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        }

        await using (var subscription = batchConsumer
            ? await bus.ConsumeBatchAsync(queue, async (batch, ct) =>
            {
                await HandleAsync(batch, ct);
                return new ConsumeOutcome[batch.Count];
            }, new BatchConsumerOptions(MaxMessages: 2))
            : await bus.ConsumeAsync(queue, async (m, ct) =>
            {
                await HandleAsync([m], ct);
                return ConsumeOutcome.Ack;
            }, new ConsumerOptions(Prefetch: 10)))
        {
            try
            {
                await firstEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));
                await RabbitMqRestarter.StopAndStartAsync(TimeSpan.FromSeconds(1));
                restarted = true;

                // Once a publish goes through, the connection has recovered; give the recovered consumer time to be fed
                // while the first handler still runs, then let it finish.
                await bus.PublishToQueueAsync(queue, [new OutgoingMessage(Encoding.UTF8.GetBytes("probe"), "probe")]).AsTask().WaitAsync(TimeSpan.FromSeconds(100));
                await Task.Delay(3000);
            }
            finally
            {
                release.TrySetResult();
                if (!restarted)
                {
                    await RabbitMqRestarter.StartLikeServicesScriptAsync();
                }
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!handled.Any(h => h.StartsWith("probe", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            output.WriteLine(string.Join(Environment.NewLine, handled));
            Assert.Contains(handled, h => h.StartsWith("probe", StringComparison.Ordinal));
            Assert.True(maxInFlight == 1, $"the handler ran {maxInFlight} times at once: " + string.Join("; ", handled));
        }

        await bus.DeleteQueueAsync(queue);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
