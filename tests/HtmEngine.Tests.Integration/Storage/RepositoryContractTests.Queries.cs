using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>The application-side queries of htmengine-spec §9.3, on every backend.</summary>
public abstract partial class RepositoryContractTests
{
    [ServerFact]
    public async Task GetInstances_groups_monitored_metrics_by_server()
    {
        string u = Guid.NewGuid().ToString("N")[..10];
        string serverA = "srvA-" + u, serverB = "srvB-" + u, serverC = "srvC-" + u;
        await Repository.CreateMetricAsync(new NewMetric(u + "/EC2/CPUUtilization")
        {
            Server = serverA, Location = "us-east", TagName = "tagA", Parameters = "{\"p\":1}", Status = MetricStatus.Active, Message = "m1 msg",
        });
        await Repository.CreateMetricAsync(new NewMetric(u + "/EC2/Net") { Server = serverA, Location = "eu", TagName = "tagB", Status = MetricStatus.CreatePending, Message = "m2 msg" });
        await Repository.CreateMetricAsync(new NewMetric(u + "/EC2/Disk/Unmonitored") { Server = serverA, Message = "not a model" });
        await Repository.CreateMetricAsync(new NewMetric("b1-" + u) { Server = serverB, Status = MetricStatus.Error, Message = "boom" });
        await Repository.CreateMetricAsync(new NewMetric("b2-" + u) { Server = serverB, Status = MetricStatus.PendingData, Message = string.Empty });
        await Repository.CreateMetricAsync(new NewMetric("only-unmonitored" + u) { Server = serverC });

        var instances = (await Repository.GetInstancesAsync()).Where(i => i.Server is not null && i.Server.EndsWith(u, StringComparison.Ordinal)).ToArray();
        Assert.Equal(
            new[]
            {
                new InstanceSummary(serverA, "us-east", u + "/EC2", "tagA", MetricStatus.Active | MetricStatus.CreatePending, "{\"p\":1}", "m1 msg\nm2 msg", 2),
                new InstanceSummary(serverB, null, "b1-" + u, null, MetricStatus.Error | MetricStatus.PendingData, null, "boom", 2),
            },
            instances);
    }

    [ServerFact]
    public async Task Metric_count_and_ids_for_a_server_include_unmonitored_metrics()
    {
        string server = "srv-" + Guid.NewGuid().ToString("N")[..10];
        var a = await Repository.CreateMetricAsync(new NewMetric(Unique("a")) { Server = server, Status = MetricStatus.Active });
        var b = await Repository.CreateMetricAsync(new NewMetric(Unique("b")) { Server = server });
        await Repository.CreateMetricAsync(new NewMetric(Unique("c")) { Server = server + "-other" });

        Assert.Equal(2, await Repository.GetMetricCountForServerAsync(server));
        Assert.Equal(new[] { a.Uid, b.Uid }.Order(StringComparer.Ordinal), await Repository.ListMetricIdsForServerAsync(server));
        Assert.Equal(0, await Repository.GetMetricCountForServerAsync("nobody-" + server));
        Assert.Empty(await Repository.ListMetricIdsForServerAsync("nobody-" + server));
    }

    [ServerFact]
    public async Task Processed_count_and_raw_score_tail_see_only_scored_rows()
    {
        var m = await ScoredSeriesAsync();
        Assert.Equal(4, await Repository.GetProcessedMetricDataCountAsync(m.Uid));
        var tail = await Repository.GetMetricDataWithRawAnomalyScoresTailAsync(m.Uid, 2);
        Assert.Equal(new long[] { 9, 6 }, tail.Select(r => r.Rowid));
        Assert.Equal(new MetricDataRow(m.Uid, 9, s_t0.AddMinutes(40), 8, 0.3, 0.9, 3, null), tail[0]);
        Assert.Equal(new long[] { 9, 6, 5, 3 }, (await Repository.GetMetricDataWithRawAnomalyScoresTailAsync(m.Uid, 100)).Select(r => r.Rowid));
        Assert.Empty(await Repository.GetMetricDataWithRawAnomalyScoresTailAsync(m.Uid, 0));
        Assert.Equal(0, await Repository.GetProcessedMetricDataCountAsync((await NewCustomAsync()).Uid));
    }

    [ServerFact]
    public async Task Unprocessed_model_data_counts_unscored_rows_of_active_metrics_only()
    {
        long before = await Repository.GetUnprocessedModelDataCountAsync();
        var active = await NewCustomAsync();
        await Repository.StoreSamplesAsync(active.Uid, Series(5, s_t0));
        await Repository.UpdateScoresAsync(active.Uid, new[] { new ScoreUpdate(1, 0.1, 0.2, 1), new ScoreUpdate(2, 0.1, 0.2, 1), new ScoreUpdate(3, 0.1, null, null) });
        await Repository.SetMetricStatusAsync(active.Uid, MetricStatus.Active);
        var unmonitored = await NewCustomAsync();
        await Repository.StoreSamplesAsync(unmonitored.Uid, Series(4, s_t0));
        var pending = await NewCustomAsync();
        await Repository.StoreSamplesAsync(pending.Uid, Series(4, s_t0));
        await Repository.SetMetricStatusAsync(pending.Uid, MetricStatus.CreatePending);

        Assert.Equal(before + 3, await Repository.GetUnprocessedModelDataCountAsync());
    }

    [ServerFact]
    public async Task GetMetricData_sorts_by_display_value()
    {
        var m = await ScoredSeriesAsync();
        Assert.Equal(new long[] { 9, 6, 3, 5 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Sort = MetricDataSort.DisplayValueDescending, Limit = 4 }));
    }

    [ServerFact]
    public async Task Metric_ids_sorted_by_display_value_sum_block_maxima_over_the_newest_window()
    {
        // Far beyond every other test's data, so this window holds only these metrics. Midnight is a multiple of 150 s.
        var n = new DateTime(2090, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var a = await NewCustomAsync();
        await Repository.StoreSamplesAsync(a.Uid, new[]
        {
            new Sample(n.AddSeconds(-3601), 1), // before the window
            new Sample(n.AddSeconds(-450), 2),
            new Sample(n.AddSeconds(-390), 3), // same 150 s block as the one before
            new Sample(n.AddSeconds(-150), 4),
            new Sample(n, 5),
        });
        await Repository.UpdateScoresAsync(a.Uid, new[] { new ScoreUpdate(1, 1, 1, 100), new ScoreUpdate(2, 0, 0, 2), new ScoreUpdate(3, 0, 0, 5), new ScoreUpdate(4, 0, 0, 1), new ScoreUpdate(5, 0, 0, 3) });
        var b = await NewCustomAsync();
        await Repository.StoreSamplesAsync(b.Uid, new[] { new Sample(n.AddSeconds(-3600), 1), new Sample(n.AddSeconds(-300), 2) });
        await Repository.UpdateScoresAsync(b.Uid, new[] { new ScoreUpdate(1, 0, 0, 4), new ScoreUpdate(2, 0, 0, 6) });
        var c = await NewCustomAsync();
        await Repository.StoreSamplesAsync(c.Uid, new[] { new Sample(n.AddSeconds(-10), 1) });

        Assert.Equal(
            new[] { new MetricDisplayScore(b.Uid, 10), new MetricDisplayScore(a.Uid, 9), new MetricDisplayScore(c.Uid, null) },
            await Repository.GetMetricIdsSortedByDisplayValueAsync(1));

        // A 2-hour window reaches a's old row; blocks are 300 s: -450 and -390 still share one, -150 and n do not.
        Assert.Equal(
            new[] { new MetricDisplayScore(a.Uid, 100 + 5 + 1 + 3), new MetricDisplayScore(b.Uid, 10), new MetricDisplayScore(c.Uid, null) },
            await Repository.GetMetricIdsSortedByDisplayValueAsync(2));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Repository.GetMetricIdsSortedByDisplayValueAsync(0));
    }

    [ServerFact]
    public async Task DeleteModel_clears_the_model_and_the_scores_and_keeps_the_samples()
    {
        var m = await ScoredSeriesAsync();
        await Repository.SetParametersAsync(m.Uid, "{\"spec\":1}");
        await Repository.SetModelParamsAsync(m.Uid, "{\"modelDefinition\":{}}");
        await Repository.SetMetricStatusAsync(m.Uid, MetricStatus.Active, "fine");
        await Repository.UpdateScoresAsync(m.Uid, new[] { new ScoreUpdate(9, 0.3, 0.9, 3, "{\"1\":2.0}") });

        await Repository.DeleteModelAsync(m.Uid);

        var row = await Repository.GetMetricAsync(m.Uid);
        Assert.Equal((null, null, MetricStatus.Unmonitored, null), (row.Parameters, row.ModelParams, row.Status, row.Message));
        var data = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid });
        Assert.Equal(10, data.Count);
        Assert.All(data, d => Assert.Equal((null, null, null, null), (d.RawAnomalyScore, d.AnomalyScore, d.DisplayValue, d.MultiStepBestPredictions)));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (double)i), data.Select(d => d.MetricValue));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.DeleteModelAsync("missing-" + Guid.NewGuid().ToString("N")));
    }

    [ServerFact]
    public async Task Instance_status_history_records_only_changes()
    {
        string server = "inst-" + Guid.NewGuid().ToString("N")[..10];
        var t1 = s_t0.AddMinutes(1);
        Assert.True(await Repository.SaveInstanceStatusAsync(server, "running", t1));
        Assert.False(await Repository.SaveInstanceStatusAsync(server, "running", t1.AddMinutes(1)));
        Assert.True(await Repository.SaveInstanceStatusAsync(server, "stopped", t1.AddMinutes(2).AddMilliseconds(200)));
        Assert.True(await Repository.SaveInstanceStatusAsync(server, "terminated", t1.AddMinutes(2)));
        Assert.Equal(
            new[] { new InstanceStatus(server, t1.AddMinutes(2), "terminated"), new InstanceStatus(server, t1, "running") },
            await Repository.GetInstanceStatusHistoryAsync(server));
        Assert.Empty(await Repository.GetInstanceStatusHistoryAsync(server + "-none"));
    }

    [ServerFact]
    public async Task GetScoredHistories_equals_the_per_metric_count_and_newest_rows_of_each()
    {
        // New metric (no scored rows), one with a few scored rows among unscored ones, one with more than the limit,
        // an unknown uid and a uid named twice: each entry must be what CountScoredRowsAsync and
        // GetNewestScoredRowsAsync return for that metric (the anomaly service swaps the one for the two).
        const int Limit = 5;
        var fresh = await NewCustomAsync();
        var few = await NewCustomAsync();
        var many = await NewCustomAsync();
        await Repository.StoreSamplesAsync(fresh.Uid, Series(4, s_t0));
        await Repository.StoreSamplesAsync(few.Uid, Series(8, s_t0, firstValue: 10));
        await Repository.StoreSamplesAsync(many.Uid, Series(12, s_t0, firstValue: 100));
        await Repository.UpdateScoresAsync(few.Uid, new[] { new ScoreUpdate(2, 0.25, 0.5, 1), new ScoreUpdate(3, 0.125, 0.5, 1), new ScoreUpdate(5, 1.0 / 3, null, null) });
        var scores = new ScoreUpdate[10];
        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = new ScoreUpdate(i + 1, 0.1 * i, 0.2, 1);
        }

        await Repository.UpdateScoresAsync(many.Uid, scores);
        string unknown = Guid.NewGuid().ToString("N");

        var read = await Repository.GetScoredHistoriesAsync([fresh.Uid, few.Uid, many.Uid, unknown, few.Uid], Limit);

        Assert.Equal(4, read.Count);
        foreach (var uid in new[] { fresh.Uid, few.Uid, many.Uid, unknown })
        {
            var expectedRows = await Repository.GetNewestScoredRowsAsync(uid, Limit);
            Assert.Equal(await Repository.CountScoredRowsAsync(uid), read[uid].Count);
            Assert.Equal(expectedRows, read[uid].Newest);
        }

        Assert.Equal(0, read[fresh.Uid].Count);
        Assert.Equal([2L, 3, 5], read[few.Uid].Newest.Select(r => r.Rowid));
        Assert.Equal(1.0 / 3, read[few.Uid].Newest[2].RawAnomalyScore);
        Assert.Equal(10, read[many.Uid].Count);
        Assert.Equal([6L, 7, 8, 9, 10], read[many.Uid].Newest.Select(r => r.Rowid));
        Assert.Empty(await Repository.GetScoredHistoriesAsync([], Limit));
        Assert.Empty((await Repository.GetScoredHistoriesAsync([few.Uid], 0))[few.Uid].Newest);
    }
}
