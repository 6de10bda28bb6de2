using System.Collections.Concurrent;
using System.Text;
using HtmEngine.Bus;

namespace HtmEngine.Tests.Integration.Bus;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RabbitMqRestartCollection
{
    public const string Name = "rabbitmq-restart";
}

/// <summary>
/// Stops RabbitMQ while one bus publishes confirmed batches and consumes them, then starts it again the way
/// <c>scripts/services.sh start</c> does: every confirmed message is consumed at least once, and every copy beyond the
/// first carries an id already seen, so duplicates are recognisable. The broker is running again when the test ends.
/// </summary>
[Collection(RabbitMqRestartCollection.Name)]
public sealed class RabbitMqRestartTests
{
    [ServerFact(TestServer.RabbitMq)]
    public Task Broker_restart_loses_nothing_confirmed_and_duplicates_carry_known_ids() => RestartAsync(batchConsumer: false);

    // A batch consumer acknowledges a whole batch with one multiple-ack after a recovery may have reset the channel's
    // delivery tags: nothing consumed after the restart may be acknowledged without having reached the handler.
    [ServerFact(TestServer.RabbitMq)]
    public Task Broker_restart_under_a_batch_consumer_loses_nothing_confirmed() => RestartAsync(batchConsumer: true);

    private static async Task RestartAsync(bool batchConsumer)
    {
        var options = RabbitMqBusContractTests.Options with { };
        options = options with { RetryTimeout = TimeSpan.FromSeconds(90), ConfirmTimeout = TimeSpan.FromSeconds(5) };
        string queue = $"htmengine.test.restart.{Guid.NewGuid():N}";
        var received = new ConcurrentDictionary<string, int>();
        var confirmed = new ConcurrentDictionary<string, byte>();
        var published = new ConcurrentDictionary<string, byte>();
        long deliveries = 0;

        await using var bus = await RabbitMqMessageBus.ConnectAsync(options);
        await bus.DeclareQueueAsync(queue);
        await using var subscription = batchConsumer
            ? await bus.ConsumeBatchAsync(queue, async (messages, ct) =>
            {
                await Task.Delay(10, ct); // slow enough for batches to form
                foreach (var m in messages)
                {
                    Interlocked.Increment(ref deliveries);
                    received.AddOrUpdate(m.MessageId!, 1, (_, n) => n + 1);
                }

                return new ConsumeOutcome[messages.Count];
            }, new BatchConsumerOptions(MaxMessages: 16))
            : await bus.ConsumeAsync(queue, (m, _) =>
            {
                Interlocked.Increment(ref deliveries);
                received.AddOrUpdate(m.MessageId!, 1, (_, n) => n + 1);
                return ValueTask.FromResult(ConsumeOutcome.Ack);
            }, new ConsumerOptions(Prefetch: 20));

        using var stopPublishing = new CancellationTokenSource();
        var publisher = Task.Run(async () =>
        {
            for (int b = 0; !stopPublishing.IsCancellationRequested; b++)
            {
                var batch = Enumerable.Range(0, 20)
                    .Select(i => new OutgoingMessage(Encoding.UTF8.GetBytes($"sample {b} {i}"), $"b{b}-{i}"))
                    .ToArray();
                foreach (var m in batch)
                {
                    published[m.MessageId!] = 0;
                }

                await bus.PublishToQueueAsync(queue, batch);
                foreach (var m in batch)
                {
                    confirmed[m.MessageId!] = 0;
                }

                await Task.Delay(20);
            }
        });

        bool restarted = false;
        try
        {
            await Task.Delay(1500);
            int confirmedBefore = confirmed.Count;
            Assert.True(confirmedBefore > 0, "nothing confirmed before the restart");
            await RabbitMqRestarter.StopAsync();
            await RabbitMqRestarter.StartLikeServicesScriptAsync();
            restarted = true;

            // Publishing and consuming resume after recovery.
            int confirmedAfterRestart = confirmed.Count;
            var resumeDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (confirmed.Count < confirmedAfterRestart + 100 && DateTime.UtcNow < resumeDeadline)
            {
                await Task.Delay(100);
            }

            Assert.True(confirmed.Count >= confirmedAfterRestart + 100, "publishing did not resume after the restart");
        }
        finally
        {
            if (!restarted)
            {
                await RabbitMqRestarter.StartLikeServicesScriptAsync();
            }

            await stopPublishing.CancelAsync();
            await publisher;
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (confirmed.Keys.Any(id => !received.ContainsKey(id)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var lost = confirmed.Keys.Where(id => !received.ContainsKey(id)).ToArray();
        Assert.True(lost.Length == 0, $"{lost.Length} confirmed message(s) never consumed, e.g. {string.Join(", ", lost.Take(5))}");
        Assert.All(received.Keys, id => Assert.True(published.ContainsKey(id), $"unknown message id {id}"));
        long duplicates = Interlocked.Read(ref deliveries) - received.Count;
        Assert.True(duplicates >= 0);
        Console.WriteLine($"restart test ({(batchConsumer ? "batch" : "single")} consumer): {confirmed.Count} confirmed, {received.Count} distinct consumed, {duplicates} duplicate deliveries");
        await bus.DeleteQueueAsync(queue);
    }
}
