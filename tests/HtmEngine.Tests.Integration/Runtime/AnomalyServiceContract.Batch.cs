using HtmEngine.Bus;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Storage;
using HtmEngine.Tests.Unit.Runtime.Contract;

namespace HtmEngine.Tests.Integration.Runtime;

/// <summary>The anomaly service's batch handling: several result messages, one commit and one publish.</summary>
public abstract partial class AnomalyServiceContract
{
    private BusMessage Delivered(ModelResult[] results, string id) =>
        new(ResultsQueue, ModelMessageCodec.EncodeResults(results), id, new Dictionary<string, string>(), ModelMessageCodec.ResultsContentType, false, 0);

    private static long CallsOf(AnomalyService service, string stage)
    {
        for (int i = 0; i < service.Timings.Count; i++)
        {
            if (service.Timings.Name(i) == stage)
            {
                return service.Timings.Calls(i);
            }
        }

        throw new ArgumentException("no stage " + stage, nameof(stage));
    }

    public async Task A_batch_of_result_messages_is_committed_and_published_once_and_a_bad_message_costs_only_itself()
    {
        const int N = 60;
        var (ts, values, raw) = Series(N, seed: 11);
        var expected = ReferenceScores(Small, ts, values, raw);
        var a = await CreateMetricAsync("batch-a", MetricStatus.Active, ts, values);
        var b = await CreateMetricAsync("batch-b", MetricStatus.Active, ts, values);
        var service = new AnomalyService(Repository, Bus, new AnomalyServiceOptions(ResultsQueue, Exchange, Small));
        BusMessage[] batch =
        [
            Delivered(Results(a.Uid, ts, values, raw, 0, 20), "r1"),
            Delivered(Results(b.Uid, ts, values, raw, 0, 30), "r2"),
            new(ResultsQueue, "not results"u8.ToArray(), "bad", new Dictionary<string, string>(), ModelMessageCodec.ResultsContentType, false, 0),
            Delivered(Results(a.Uid, ts, values, raw, 20, 20), "r3"),
            Delivered(Results(b.Uid, ts, values, raw, 30, 30), "r4"),
            Delivered(Results(a.Uid, ts, values, raw, 40, 20), "r5"),
        ];

        var outcomes = await service.HandleBatchAsync(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack, ConsumeOutcome.DeadLetter, ConsumeOutcome.Ack, ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(1, service.Counters.RejectedMessages);
        Assert.Equal(2 * N, service.Counters.Scored);
        Assert.Equal(1, CallsOf(service, "commit"));  // one transaction for the five good messages
        Assert.Equal(1, CallsOf(service, "publish")); // one confirmed publish round
        await AssertScoredAsync(a.Uid, raw, expected, ts, values);
        await AssertScoredAsync(b.Uid, raw, expected, ts, values);
    }

    public async Task A_batch_that_fails_before_its_commit_is_processed_again_one_message_at_a_time_without_loss_or_double_scoring()
    {
        const int N = 60;
        var (ts, values, raw) = Series(N, seed: 13);
        var expected = ReferenceScores(Small, ts, values, raw);
        var a = await CreateMetricAsync("fail-a", MetricStatus.Active, ts, values);
        var b = await CreateMetricAsync("fail-b", MetricStatus.Active, ts, values);
        var (flaky, control) = FlakyRepository.Wrap(Repository);
        control.Failing[nameof(IMetricRepository.CommitAnomalyScoresBatchAsync)] = 1; // the batch's commit fails once
        var service = new AnomalyService(flaky, Bus, new AnomalyServiceOptions(ResultsQueue, Exchange, Small));
        BusMessage[] batch =
        [
            Delivered([.. Results(a.Uid, ts, values, raw, 0, 30), .. Results(b.Uid, ts, values, raw, 0, 30)], "r1"),
            Delivered([.. Results(a.Uid, ts, values, raw, 30, 30), .. Results(b.Uid, ts, values, raw, 30, 30)], "r2"),
        ];

        var outcomes = await service.HandleBatchAsync(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(1, control.Failures);
        Assert.Equal(2 * N, service.Counters.Scored); // the failed attempt fed nothing that stayed
        await AssertScoredAsync(a.Uid, raw, expected, ts, values);
        await AssertScoredAsync(b.Uid, raw, expected, ts, values);

        // Delivered again (the acknowledgement was lost): nothing is scored twice, the stored scores go out again.
        var again = await service.HandleBatchAsync([batch[0] with { Redelivered = true }, batch[1] with { Redelivered = true }], CancellationToken.None);
        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack], again);
        Assert.Equal(2 * N, service.Counters.Scored);
        await AssertScoredAsync(a.Uid, raw, expected, ts, values);
    }

    public async Task A_batch_that_meets_a_database_outage_waits_and_is_processed_again_whole_in_place()
    {
        // More outages than MaxFailedAttempts (5): the batch is neither split into one-message failures nor counted
        // towards dead-lettering; it is processed again whole, in place, once the database answers (issue #7).
        const int N = 60;
        const int Outages = 6;
        var (ts, values, raw) = Series(N, seed: 17);
        var expected = ReferenceScores(Small, ts, values, raw);
        var a = await CreateMetricAsync("outage-a", MetricStatus.Active, ts, values);
        var b = await CreateMetricAsync("outage-b", MetricStatus.Active, ts, values);
        var (repository, outage) = HtmEngine.Tests.Unit.Runtime.OutageRepository.Wrap(Repository, Outages, nameof(IMetricRepository.CommitAnomalyScoresBatchAsync));
        var service = new AnomalyService(repository, Bus, new AnomalyServiceOptions(ResultsQueue, Exchange, Small));
        BusMessage[] batch =
        [
            Delivered([.. Results(a.Uid, ts, values, raw, 0, 30), .. Results(b.Uid, ts, values, raw, 0, 30)], "o1"),
            Delivered([.. Results(a.Uid, ts, values, raw, 30, 30), .. Results(b.Uid, ts, values, raw, 30, 30)], "o2"),
        ];

        var outcomes = await service.HandleBatchAsync(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(Outages, outage.Failures);
        Assert.Equal(2 * N, service.Counters.Scored); // the failed passes fed nothing that stayed
        Assert.Equal(1, CallsOf(service, "publish")); // the batch as a whole, not one message at a time
        await AssertScoredAsync(a.Uid, raw, expected, ts, values);
        await AssertScoredAsync(b.Uid, raw, expected, ts, values);
    }

    public async Task A_batch_reads_the_histories_of_its_cold_metrics_together_and_scores_as_the_reference()
    {
        // An earlier instance scored 100 rows of a (more than Small's 80-row history) and 25 of b; c is new. A fresh
        // instance (no history cached) handles the rest of all three in one batch: their histories come from one
        // GetScoredHistoriesAsync, not a count and a newest-rows query per metric, and every score is the reference's.
        const int N = 120;
        var (ts, values, raw) = Series(N, seed: 19);
        var expected = ReferenceScores(Small, ts, values, raw);
        var a = await CreateMetricAsync("cold-a", MetricStatus.Active, ts, values);
        var b = await CreateMetricAsync("cold-b", MetricStatus.Active, ts, values);
        var c = await CreateMetricAsync("cold-c", MetricStatus.Active, ts, values);
        var options = new AnomalyServiceOptions(ResultsQueue, Exchange, Small);
        var earlier = new AnomalyService(Repository, Bus, options);
        Assert.Equal(
            [ConsumeOutcome.Ack, ConsumeOutcome.Ack],
            await earlier.HandleBatchAsync([Delivered(Results(a.Uid, ts, values, raw, 0, 100), "e1"), Delivered(Results(b.Uid, ts, values, raw, 0, 25), "e2")], CancellationToken.None));
        var (counting, control) = FlakyRepository.Wrap(Repository);
        var service = new AnomalyService(counting, Bus, options);
        BusMessage[] batch =
        [
            Delivered([.. Results(a.Uid, ts, values, raw, 100, 20), .. Results(b.Uid, ts, values, raw, 25, 50)], "h1"),
            Delivered([.. Results(c.Uid, ts, values, raw, 0, N), .. Results(b.Uid, ts, values, raw, 75, 45)], "h2"),
        ];

        var outcomes = await service.HandleBatchAsync(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(1, control.CallsOf(nameof(IMetricRepository.GetScoredHistoriesAsync)));
        Assert.Equal(0, control.CallsOf(nameof(IMetricRepository.CountScoredRowsAsync)));
        Assert.Equal(0, control.CallsOf(nameof(IMetricRepository.GetNewestScoredRowsAsync)));
        Assert.Equal(20 + 95 + N, service.Counters.Scored);
        await AssertScoredAsync(a.Uid, raw, expected, ts, values);
        await AssertScoredAsync(b.Uid, raw, expected, ts, values);
        await AssertScoredAsync(c.Uid, raw, expected, ts, values);
    }

    public async Task Cold_histories_read_ahead_are_at_most_the_history_cache_size()
    {
        // Four new metrics in one set with room for two cached histories: two are read ahead together, the other two
        // one by one (a count and a newest-rows read each), so a large restart never holds more than the cache would.
        const int N = 40;
        var (ts, values, raw) = Series(N, seed: 23);
        var expected = ReferenceScores(Small, ts, values, raw);
        var metrics = new MetricRow[4];
        for (int i = 0; i < metrics.Length; i++)
        {
            metrics[i] = await CreateMetricAsync("capped-" + i, MetricStatus.Active, ts, values);
        }

        var (counting, control) = FlakyRepository.Wrap(Repository);
        var service = new AnomalyService(counting, Bus, new AnomalyServiceOptions(ResultsQueue, Exchange, Small) { HistoryCacheMetrics = 2 });
        ModelResult[] all = [.. Results(metrics[0].Uid, ts, values, raw, 0, N), .. Results(metrics[1].Uid, ts, values, raw, 0, N), .. Results(metrics[2].Uid, ts, values, raw, 0, N), .. Results(metrics[3].Uid, ts, values, raw, 0, N)];

        var outcomes = await service.HandleBatchAsync([Delivered(all[..(2 * N)], "k1"), Delivered(all[(2 * N)..], "k2")], CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        Assert.Equal(1, control.CallsOf(nameof(IMetricRepository.GetScoredHistoriesAsync)));
        Assert.Equal(2, control.CallsOf(nameof(IMetricRepository.CountScoredRowsAsync)));
        Assert.Equal(2, control.CallsOf(nameof(IMetricRepository.GetNewestScoredRowsAsync)));
        foreach (var m in metrics)
        {
            await AssertScoredAsync(m.Uid, raw, expected, ts, values);
        }
    }
}
