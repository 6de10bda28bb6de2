using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Models;

/// <summary>
/// What a broker restart does to a shard's input, played out deterministically on the batch handler (issue #7, the
/// RabbitMQ-restart score divergence): batches redelivered after their results were published (acknowledgements lost
/// with the connection), copies of messages, failed messages republished to the tail of the queue behind newer ones,
/// and result publishes that fail before or after the broker took the message (a confirm that timed out). Whatever
/// the schedule, every result the shard publishes must be the bare model's score for its row.
/// </summary>
public sealed class ModelRunnerRedeliveryTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task Redelivered_duplicated_and_reordered_requests_with_ambiguous_result_publishes_score_every_row_as_the_bare_model(int seed)
    {
        const int Rows = 240;
        var random = new Random(seed);
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        var bus = new ChaosBus(h.Bus, h.Options.ResultsQueue, random);
        h.ServiceBus = bus;

        // Small chunks and frequent checkpoints, so units flush and checkpoint part-way and abandoned ones reload models
        // from full checkpoints, not only from their definitions.
        h.Options = h.Options with { ChunkSize = 7, CheckpointEveryRows = 23 };
        await using var service = await h.StartAsync();
        string queue = h.QueueOf("x");
        string[] uids = [await h.CreateMetricAsync("a"), await h.CreateMetricAsync("b"), await h.CreateMetricAsync("c")];

        // The shard's queue as the storer fills it: the defines, then each metric's rows in messages of 1-9 rows.
        var queued = new List<BusMessage>();
        int id = 0;
        foreach (string uid in uids)
        {
            queued.Add(Delivered(queue, "m" + id++, ModelRequest.Define(uid, "c-" + uid, RunnerHarness.Definition)));
        }

        Sample[] series = RunnerHarness.Series(Rows, seed);
        for (int i = 0; i < Rows;)
        {
            int n = Math.Min(Rows - i, random.Next(1, 10));
            foreach (string uid in uids)
            {
                await h.StoreAsync(uid, series.AsMemory(i, n));
                var requests = new ModelRequest[n];
                for (int k = 0; k < n; k++)
                {
                    requests[k] = ModelRequest.ForRow(uid, i + k + 1, series[i + k].Timestamp, series[i + k].Value);
                }

                queued.Add(Delivered(queue, "m" + id++, requests));
            }

            i += n;
        }

        // The consumer: batches of 1-8 queued messages. A batch's messages may come again later (their acks were lost
        // with the connection, so the broker redelivers them in place: next), a message may have a copy further on (a
        // publish repeated after its confirm timed out), and a message the handler failed goes to the tail.
        int handled = 0;
        while (queued.Count > 0)
        {
            int take = Math.Min(queued.Count, random.Next(1, 9));
            BusMessage[] batch = [.. queued.GetRange(0, take)];
            queued.RemoveRange(0, take);
            IReadOnlyList<ConsumeOutcome> outcomes = await bus.Handler!(batch, CancellationToken.None);
            handled++;
            for (int i = 0; i < batch.Length; i++)
            {
                if (outcomes[i] == ConsumeOutcome.Retry)
                {
                    queued.Add(batch[i] with { FailedAttempts = batch[i].FailedAttempts + 1 });
                }
            }

            if (random.NextDouble() < 0.15)
            {
                queued.InsertRange(0, batch);
            }

            if (random.NextDouble() < 0.1 && queued.Count > 0)
            {
                BusMessage copy = batch[random.Next(batch.Length)];
                queued.Insert(random.Next(Math.Min(queued.Count, 12) + 1), copy);
            }

            Assert.True(handled < 10_000, "the schedule did not end");
        }

        foreach (string uid in uids)
        {
            await h.WaitForScoresAsync(uid, Rows);
            h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        }

        Assert.True(bus.FailedBefore + bus.FailedAfter > 0, "no result publish failed; the schedule proves little");
        await service.StopAsync(CancellationToken.None);
    }

    private static BusMessage Delivered(string queue, string id, params ModelRequest[] requests) =>
        new(queue, ModelMessageCodec.EncodeRequests(requests), id, new Dictionary<string, string>(), ModelMessageCodec.RequestsContentType, false, 0);

    /// <summary>
    /// Keeps the shard's batch handler instead of subscribing it; result publishes fail now and then, either before
    /// the message reached the queue or after (the broker has it, but the publisher was told it failed).
    /// </summary>
    private sealed class ChaosBus(IMessageBus inner, string resultsQueue, Random random) : HandlerCapturingBus(inner)
    {

        public int FailedBefore { get; private set; }

        public int FailedAfter { get; private set; }

        public override async ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
        {
            double draw = queue == resultsQueue ? random.NextDouble() : 1;
            if (draw < 0.08)
            {
                FailedBefore++;
                throw new IOException("injected publish failure before the broker took the message");
            }

            await Inner.PublishToQueueAsync(queue, messages, cancellationToken);
            if (draw < 0.16)
            {
                FailedAfter++;
                throw new TimeoutException("injected confirm time-out after the broker took the message");
            }
        }


    }
}
