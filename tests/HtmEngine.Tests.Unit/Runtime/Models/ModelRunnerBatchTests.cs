using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Models;

/// <summary>
/// A shard handles a batch of input messages as one unit: rows in order, one result publish, a bad message alone.
/// The batches are made by the test (the bus's batch handler is captured), so their make-up is exact.
/// </summary>
public sealed class ModelRunnerBatchTests
{
    private static BusMessage Delivered(string queue, string id, params ModelRequest[] requests) =>
        new(queue, ModelMessageCodec.EncodeRequests(requests), id, new Dictionary<string, string>(), ModelMessageCodec.RequestsContentType, false, 0);

    private static async Task<(string Uid, BusMessage[] Batch)> PrepareAsync(RunnerHarness h, string queue, int rows)
    {
        string uid = await h.CreateMetricAsync("batch");
        Sample[] series = RunnerHarness.Series(rows);
        await h.StoreAsync(uid, series);
        var stored = await h.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid });
        ModelRequest Row(int i) => ModelRequest.ForRow(uid, stored[i].Rowid, stored[i].Timestamp, stored[i].MetricValue);
        BusMessage[] batch =
        [
            Delivered(queue, "define", ModelRequest.Define(uid, "c1", RunnerHarness.Definition)),
            Delivered(queue, "rows-1", [.. Enumerable.Range(0, 10).Select(Row)]),
            new(queue, "garbage"u8.ToArray(), "poison", new Dictionary<string, string>(), ModelMessageCodec.RequestsContentType, false, 0),
            Delivered(queue, "rows-2", [.. Enumerable.Range(10, 10).Select(Row)]),
            Delivered(queue, "rows-3", [.. Enumerable.Range(20, rows - 20).Select(Row)]),
        ];
        return (uid, batch);
    }

    [Fact]
    public async Task A_batch_is_scored_in_order_with_one_result_publish_and_a_bad_message_costs_only_itself()
    {
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        var capture = new CapturingBus(h.Bus, h.Options.ResultsQueue, failResultPublishes: 0);
        h.ServiceBus = capture;
        await using var service = await h.StartAsync();
        var (uid, batch) = await PrepareAsync(h, h.QueueOf("x"), 40);
        long before = service.Counters.Snapshot().ResultMessages;

        var outcomes = await capture.Handler!(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack, ConsumeOutcome.DeadLetter, ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(1, service.Counters.Snapshot().ResultMessages - before); // one publish (confirm) for the whole batch
        Assert.Equal(1, service.Counters.Snapshot().RejectedMessages);
        await h.WaitForScoresAsync(uid, 40);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), 40);
        Assert.Single(h.CommandResultsOf(uid));
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_batch_that_interleaves_metrics_steps_each_model_through_all_its_rows_at_once_with_the_same_scores()
    {
        // A budget below one model: a model is loaded again whenever another one was stepped in between, so the
        // loads count how often the shard switched models.
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        h.Options = h.Options with { MemoryBudgetBytes = 1 };
        var capture = new CapturingBus(h.Bus, h.Options.ResultsQueue, failResultPublishes: 0);
        h.ServiceBus = capture;
        await using var service = await h.StartAsync();
        string queue = h.QueueOf("x");
        const int Rows = 40;
        const int PerMessage = 10;
        string[] uids = [await h.CreateMetricAsync("group-a"), await h.CreateMetricAsync("group-b"), await h.CreateMetricAsync("group-c")];
        var defines = new BusMessage[uids.Length];
        for (int m = 0; m < uids.Length; m++)
        {
            defines[m] = Delivered(queue, "define-" + m, ModelRequest.Define(uids[m], "c" + m, RunnerHarness.Definition));
        }

        Assert.All(await capture.Handler!(defines, CancellationToken.None), o => Assert.Equal(ConsumeOutcome.Ack, o));
        var rows = new List<MetricDataRow>[uids.Length];
        for (int m = 0; m < uids.Length; m++)
        {
            await h.StoreAsync(uids[m], RunnerHarness.Series(Rows, m + 1));
            rows[m] = [.. await h.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uids[m] })];
        }

        // Messages as a storer forwards them when each of its batches holds a few rows of every metric: a, b, c, a, b, c, ...
        var batch = new List<BusMessage>();
        for (int first = 0; first < Rows; first += PerMessage)
        {
            for (int m = 0; m < uids.Length; m++)
            {
                var requests = new ModelRequest[PerMessage];
                for (int i = 0; i < PerMessage; i++)
                {
                    var row = rows[m][first + i];
                    requests[i] = ModelRequest.ForRow(uids[m], row.Rowid, row.Timestamp, row.MetricValue);
                }

                batch.Add(Delivered(queue, $"rows-{m}-{first}", requests));
            }
        }

        long loadsBefore = service.Counters.Snapshot().ModelsLoaded;
        var outcomes = await capture.Handler!(batch, CancellationToken.None);

        Assert.All(outcomes, o => Assert.Equal(ConsumeOutcome.Ack, o));
        Assert.Equal(uids.Length, service.Counters.Snapshot().ModelsLoaded - loadsBefore); // once per metric, not once per message
        for (int m = 0; m < uids.Length; m++)
        {
            await h.WaitForScoresAsync(uids[m], Rows);
            h.AssertScoresEqual(uids[m], await h.ReferenceScoresAsync(uids[m]), Rows);
            Assert.Equal(Enumerable.Range(1, Rows).Select(i => rows[m][i - 1].Rowid), h.InferencesOf(uids[m]).Select(r => r.Rowid));
        }

        Assert.Equal(0, service.Counters.Snapshot().RowsCaughtUp);
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_batch_whose_results_cannot_be_published_is_handled_again_one_message_at_a_time_and_loses_nothing()
    {
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        var capture = new CapturingBus(h.Bus, h.Options.ResultsQueue, failResultPublishes: 1);
        h.ServiceBus = capture;
        await using var service = await h.StartAsync();
        var (uid, batch) = await PrepareAsync(h, h.QueueOf("x"), 40);

        var outcomes = await capture.Handler!(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack, ConsumeOutcome.DeadLetter, ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(1, capture.Failures);
        Assert.Equal(1, service.Counters.Snapshot().FailedMessages);
        await h.WaitForScoresAsync(uid, 40);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), 40);
        var rowids = h.InferencesOf(uid).Select(r => r.Rowid).ToList();
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), rowids); // each row's result once, in order
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_batch_that_meets_a_database_outage_waits_and_is_handled_again_whole_in_place()
    {
        // More outages than MaxFailedAttempts (5): the batch is neither split into one-message failures nor counted
        // towards dead-lettering; it runs again whole, in place, once the database answers (issue #7).
        const int Outages = 6;
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        var capture = new CapturingBus(h.Bus, h.Options.ResultsQueue, failResultPublishes: 0);
        h.ServiceBus = capture;
        var (repository, outage) = OutageRepository.Wrap(h.Repository, Outages, nameof(IMetricRepository.GetMetricAsync));
        h.ServiceRepository = repository;
        await using var service = await h.StartAsync();
        var (uid, batch) = await PrepareAsync(h, h.QueueOf("x"), 40);
        long before = service.Counters.Snapshot().ResultMessages;

        var outcomes = await capture.Handler!(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack, ConsumeOutcome.DeadLetter, ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(Outages, outage.Failures);
        Assert.Equal(0, service.Counters.Snapshot().FailedMessages);
        Assert.Equal(1, service.Counters.Snapshot().ResultMessages - before); // the batch as a whole, one publish
        Assert.Contains("(outage 6 for message define+4", h.Logs.ToString(), StringComparison.Ordinal);
        await h.WaitForScoresAsync(uid, 40);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), 40);
        var rowids = h.InferencesOf(uid).Select(r => r.Rowid).ToList();
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), rowids); // each row's result once, in order
        Assert.Single(h.CommandResultsOf(uid));
        await service.StopAsync(CancellationToken.None);
    }

    /// <summary>Delegates to a bus, but keeps the batch handler instead of subscribing it, and can fail result publishes.</summary>
    private sealed class CapturingBus(IMessageBus inner, string resultsQueue, int failResultPublishes) : HandlerCapturingBus(inner)
    {
        private int _toFail = failResultPublishes;


        public int Failures { get; private set; }

        public override ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
        {
            if (queue == resultsQueue && _toFail > 0)
            {
                _toFail--;
                Failures++;
                throw new IOException("injected publish failure");
            }

            return Inner.PublishToQueueAsync(queue, messages, cancellationToken);
        }


    }
}
