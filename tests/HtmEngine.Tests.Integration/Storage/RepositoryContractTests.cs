using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>
/// The repository contract, run once per backend by the derived classes. Every test makes its own
/// metrics with unique names, so tests of one class can share the class's database.
/// </summary>
public abstract partial class RepositoryContractTests
{
    private static readonly DateTime s_t0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    protected abstract IMetricRepository Repository { get; }

    /// <summary>Opens a second repository on the same database (to check idempotent migrations).</summary>
    protected abstract Task<IMetricRepository> OpenAgainAsync();

    private static string Unique(string prefix) => prefix + "." + Guid.NewGuid().ToString("N")[..12];

    private static Sample[] Series(int count, DateTime start, int stepSeconds = 300, double firstValue = 0)
    {
        var samples = new Sample[count];
        for (var i = 0; i < count; i++)
        {
            samples[i] = new Sample(start.AddSeconds((long)i * stepSeconds), firstValue + i);
        }

        return samples;
    }

    private async Task<MetricRow> NewCustomAsync(string? name = null)
        => (await Repository.GetOrCreateCustomMetricAsync(name ?? Unique("m"))).Metric;

    // ------------------------------------------------------------ schema

    [ServerFact]
    public async Task Schema_is_at_the_newest_version_and_reopening_migrates_nothing()
    {
        Assert.Equal(2, Repository.SchemaVersion);
        await using var again = await OpenAgainAsync();
        Assert.Equal(2, again.SchemaVersion);

        // The later column exists and round-trips.
        var m = await NewCustomAsync();
        await Repository.StoreSamplesAsync(m.Uid, Series(1, s_t0));
        await Repository.UpdateScoresAsync(m.Uid, new[] { new ScoreUpdate(1, 0.5, 0.25, 3, "{\"1\":2.0}") });
        var row = Assert.Single(await again.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid }));
        Assert.Equal("{\"1\":2.0}", row.MultiStepBestPredictions);
    }

    // ------------------------------------------------------------ metric rows

    [ServerFact]
    public async Task CreateMetric_stores_every_column()
    {
        var name = Unique("full");
        var created = await Repository.CreateMetricAsync(new NewMetric(name, "someds")
        {
            Description = "desc",
            Server = "srv",
            Location = "loc",
            Parameters = "{\"p\":1}",
            Status = MetricStatus.CreatePending,
            Message = "msg",
            CollectorError = "cerr",
            LastTimestamp = new DateTime(2026, 2, 3, 4, 5, 6, 400, DateTimeKind.Utc),
            PollInterval = 120,
            TagName = "tag",
            ModelParams = "{\"mp\":2}",
            LastRowid = 7,
        });

        Assert.Equal(32, created.Uid.Length);
        Assert.True(created.Uid.All(Uri.IsHexDigit));
        var read = await Repository.GetMetricAsync(created.Uid);
        Assert.Equal(created, read);
        Assert.Equal(new MetricRow(created.Uid, "someds", name, "desc", "srv", "loc", "{\"p\":1}", MetricStatus.CreatePending, "msg", "cerr", new DateTime(2026, 2, 3, 4, 5, 6, DateTimeKind.Utc), 120, "tag", "{\"mp\":2}", 7), read);
    }

    [ServerFact]
    public async Task CreateMetric_with_an_existing_uid_fails()
    {
        var uid = Guid.NewGuid().ToString("N");
        await Repository.CreateMetricAsync(new NewMetric(Unique("a")) { Uid = uid });
        await Assert.ThrowsAsync<StorageException>(() => Repository.CreateMetricAsync(new NewMetric(Unique("b")) { Uid = uid }));
    }

    [ServerFact]
    public async Task GetMetric_of_a_missing_uid_throws_MetricNotFound()
        => await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.GetMetricAsync("nope-" + Guid.NewGuid().ToString("N")));

    [ServerFact]
    public async Task GetOrCreateCustomMetric_uses_the_storer_defaults_and_returns_the_same_row_later()
    {
        var name = Unique("Graphite.Path");
        var (first, created) = await Repository.GetOrCreateCustomMetricAsync(name);
        Assert.True(created);
        Assert.Equal("custom", first.Datasource);
        Assert.Equal(name, first.Name);
        Assert.Equal("Custom metric " + name, first.Description);
        Assert.Equal(name, first.Server);
        Assert.Equal(string.Empty, first.Location);
        Assert.Equal(300, first.PollInterval);
        Assert.Equal(MetricStatus.Unmonitored, first.Status);
        Assert.Equal(0, first.LastRowid);
        Assert.Null(first.Parameters);

        var (second, createdAgain) = await Repository.GetOrCreateCustomMetricAsync(name);
        Assert.False(createdAgain);
        Assert.Equal(first, second);
    }

    [ServerFact]
    public async Task GetOrCreateCustomMetric_called_concurrently_creates_one_row()
    {
        var name = Unique("race");
        var calls = new Task<(MetricRow Metric, bool Created)>[8];
        for (var i = 0; i < calls.Length; i++)
        {
            calls[i] = Task.Run(() => Repository.GetOrCreateCustomMetricAsync(name));
        }

        var results = await Task.WhenAll(calls);
        Assert.Single(results, r => r.Created);
        Assert.Single(results.Select(r => r.Metric.Uid).Distinct());
        Assert.Single(await Repository.ListMetricsAsync(server: name));
    }

    [ServerFact]
    public async Task GetCustomMetricByName_finds_only_custom_metrics_and_is_case_sensitive()
    {
        var name = Unique("Case.Sensitive");
        var custom = await NewCustomAsync(name);
        var other = Unique("other");
        await Repository.CreateMetricAsync(new NewMetric(other, "cloudwatch"));

        Assert.Equal(custom, await Repository.GetCustomMetricByNameAsync(name));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.GetCustomMetricByNameAsync(name.ToUpperInvariant()));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.GetCustomMetricByNameAsync(other));
    }

    [ServerFact]
    public async Task ListMetrics_filters_by_datasource_status_and_server()
    {
        var server = Unique("host");
        var ds = Unique("ds");
        var a = await Repository.CreateMetricAsync(new NewMetric("b-second", ds) { Server = server });
        var b = await Repository.CreateMetricAsync(new NewMetric("a-first", ds) { Server = server, Status = MetricStatus.Active });
        var c = await Repository.CreateMetricAsync(new NewMetric("c-third", "custom") { Server = server, Status = MetricStatus.Error });

        Assert.Equal(new[] { b.Uid, a.Uid, c.Uid }, (await Repository.ListMetricsAsync(server: server)).Select(m => m.Uid));
        Assert.Equal(new[] { b.Uid, a.Uid }, (await Repository.ListMetricsAsync(datasource: ds)).Select(m => m.Uid));
        Assert.Equal(new[] { b.Uid }, (await Repository.ListMetricsAsync(datasource: ds, status: MetricStatus.Active)).Select(m => m.Uid));
        Assert.Equal(new[] { c.Uid }, (await Repository.ListMetricsAsync(status: MetricStatus.Error, server: server)).Select(m => m.Uid));

        var models = (await Repository.ListModelsAsync()).Select(m => m.Uid).ToHashSet();
        Assert.Contains(b.Uid, models);
        Assert.Contains(c.Uid, models);
        Assert.DoesNotContain(a.Uid, models);
    }

    [ServerFact]
    public async Task SetMetricStatus_sets_status_and_message_and_honours_the_expected_status()
    {
        var m = await NewCustomAsync();
        await Repository.SetMetricStatusAsync(m.Uid, MetricStatus.CreatePending);
        await Repository.SetMetricStatusAsync(m.Uid, MetricStatus.Error, "model failed", MetricStatus.CreatePending);
        var read = await Repository.GetMetricAsync(m.Uid);
        Assert.Equal(MetricStatus.Error, read.Status);
        Assert.Equal("model failed", read.Message);

        // Wrong expected status: nothing changes.
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.SetMetricStatusAsync(m.Uid, MetricStatus.Active, null, MetricStatus.CreatePending));
        Assert.Equal(MetricStatus.Error, (await Repository.GetMetricAsync(m.Uid)).Status);

        // No message clears it.
        await Repository.SetMetricStatusAsync(m.Uid, MetricStatus.Unmonitored);
        Assert.Null((await Repository.GetMetricAsync(m.Uid)).Message);

        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.SetMetricStatusAsync("missing", MetricStatus.Active));
    }

    [ServerFact]
    public async Task Column_setters_write_their_column_and_reject_a_missing_metric()
    {
        var m = await NewCustomAsync();
        await Repository.SetModelParamsAsync(m.Uid, "{\"modelConfig\":{}}");
        await Repository.SetParametersAsync(m.Uid, "{\"metricSpec\":{}}");
        await Repository.SetLastTimestampAsync(m.Uid, new DateTime(2026, 5, 6, 7, 8, 9, 600, DateTimeKind.Utc));
        await Repository.SetCollectorErrorAsync(m.Uid, "oops");
        var read = await Repository.GetMetricAsync(m.Uid);
        Assert.Equal("{\"modelConfig\":{}}", read.ModelParams);
        Assert.Equal("{\"metricSpec\":{}}", read.Parameters);
        Assert.Equal(new DateTime(2026, 5, 6, 7, 8, 10, DateTimeKind.Utc), read.LastTimestamp);
        Assert.Equal("oops", read.CollectorError);

        await Repository.SetParametersAsync(m.Uid, null);
        Assert.Null((await Repository.GetMetricAsync(m.Uid)).Parameters);

        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.SetModelParamsAsync("missing", "{}"));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.SetParametersAsync("missing", "{}"));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.SetLastTimestampAsync("missing", s_t0));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.SetCollectorErrorAsync("missing", "x"));
    }

    [ServerFact]
    public async Task DeleteMetric_cascades_to_its_samples_and_a_recreated_name_restarts_rowids()
    {
        var name = Unique("del");
        var m = await NewCustomAsync(name);
        await Repository.StoreSamplesAsync(m.Uid, Series(10, s_t0));
        await Repository.DeleteMetricAsync(m.Uid);

        Assert.Equal(0, await Repository.GetMetricDataCountAsync(m.Uid));
        Assert.Empty(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid }));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.GetMetricAsync(m.Uid));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.DeleteMetricAsync(m.Uid));

        var again = await NewCustomAsync(name);
        Assert.NotEqual(m.Uid, again.Uid);
        var result = await Repository.StoreSamplesAsync(again.Uid, Series(3, s_t0));
        Assert.Equal(1, result.FirstRowid);
    }

    // ------------------------------------------------------------ storing samples

    [ServerFact]
    public async Task StoreSamples_gives_contiguous_rowids_from_one_and_moves_last_rowid()
    {
        var m = await NewCustomAsync();
        var first = await Repository.StoreSamplesAsync(m.Uid, Series(5, s_t0));
        Assert.Equal(MetricStatus.Unmonitored, first.Status);
        Assert.Equal(1, first.FirstRowid);
        Assert.Equal(5, first.StoredCount);
        Assert.Equal(5, first.LastRowid);
        Assert.All(first.Outcomes, o => Assert.Equal(SampleOutcome.Stored, o));

        var second = await Repository.StoreSamplesAsync(m.Uid, Series(3, s_t0.AddHours(1)));
        Assert.Equal(6, second.FirstRowid);
        Assert.Equal(8, second.LastRowid);
        Assert.Equal(8, (await Repository.GetMetricAsync(m.Uid)).LastRowid);

        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid });
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), rows.Select(r => r.Rowid));
        Assert.Equal(s_t0, rows[0].Timestamp);
        Assert.Equal(DateTimeKind.Utc, rows[0].Timestamp.Kind);
        Assert.Equal(4.0, rows[4].MetricValue);
        Assert.All(rows, r => Assert.Null(r.AnomalyScore));
    }

    [ServerFact]
    public async Task StoreSamples_rejects_duplicates_and_out_of_order_samples_without_failing_the_rest()
    {
        var m = await NewCustomAsync();
        await Repository.StoreSamplesAsync(m.Uid, Series(2, s_t0)); // t0, t0+300

        var batch = new[]
        {
            new Sample(s_t0.AddSeconds(300), 10), // equal to the stored tail: duplicate
            new Sample(s_t0.AddSeconds(100), 11), // older than the tail: out of order
            new Sample(s_t0.AddSeconds(600), 12), // stored
            new Sample(s_t0.AddSeconds(600).AddMilliseconds(200), 13), // same second once rounded: duplicate
            new Sample(s_t0.AddSeconds(500), 14), // older than the previous accepted: out of order
            new Sample(s_t0.AddSeconds(900), double.NaN), // invalid
            new Sample(s_t0.AddSeconds(901), double.PositiveInfinity), // invalid
            new Sample(s_t0.AddSeconds(1200), 15), // stored
        };
        var result = await Repository.StoreSamplesAsync(m.Uid, batch);
        Assert.Equal(
            new[] { SampleOutcome.Duplicate, SampleOutcome.OutOfOrder, SampleOutcome.Stored, SampleOutcome.Duplicate, SampleOutcome.OutOfOrder, SampleOutcome.InvalidValue, SampleOutcome.InvalidValue, SampleOutcome.Stored },
            result.Outcomes);
        Assert.Equal(2, result.StoredCount);
        Assert.Equal(3, result.FirstRowid);

        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid, StartRowid = 3 });
        Assert.Equal(new[] { 12.0, 15.0 }, rows.Select(r => r.MetricValue));
        Assert.Equal(new long[] { 3, 4 }, rows.Select(r => r.Rowid));
    }

    [ServerFact]
    public async Task StoreSamples_repeated_is_recognised_as_duplicates_and_stores_nothing_twice()
    {
        var m = await NewCustomAsync();
        var batch = Series(50, s_t0);
        await Repository.StoreSamplesAsync(m.Uid, batch);
        var again = await Repository.StoreSamplesAsync(m.Uid, batch);
        Assert.Equal(0, again.StoredCount);
        Assert.Equal(SampleOutcome.Duplicate, again.Outcomes[^1]);
        Assert.Equal(50, await Repository.GetMetricDataCountAsync(m.Uid));
    }

    [ServerFact]
    public async Task StoreSamples_stores_nothing_for_a_metric_in_error()
    {
        var m = await NewCustomAsync();
        await Repository.SetMetricStatusAsync(m.Uid, MetricStatus.Error, "broken");
        var result = await Repository.StoreSamplesAsync(m.Uid, Series(3, s_t0));
        Assert.Equal(MetricStatus.Error, result.Status);
        Assert.Equal(0, result.StoredCount);
        Assert.All(result.Outcomes, o => Assert.Equal(SampleOutcome.MetricInError, o));
        Assert.Equal(0, await Repository.GetMetricDataCountAsync(m.Uid));
    }

    [ServerFact]
    public async Task StoreSamples_reports_the_status_read_under_the_lock()
    {
        var m = await NewCustomAsync();
        await Repository.SetMetricStatusAsync(m.Uid, MetricStatus.PendingData);
        Assert.Equal(MetricStatus.PendingData, (await Repository.StoreSamplesAsync(m.Uid, Series(1, s_t0))).Status);
    }

    [ServerFact]
    public async Task StoreSamples_for_a_missing_metric_throws_MetricNotFound()
        => await Assert.ThrowsAsync<MetricNotFoundException>(() => Repository.StoreSamplesAsync("missing-" + Guid.NewGuid().ToString("N"), Series(1, s_t0)));

    [ServerFact]
    public async Task StoreSamples_of_an_empty_batch_stores_nothing()
    {
        var m = await NewCustomAsync();
        var result = await Repository.StoreSamplesAsync(m.Uid, ReadOnlyMemory<Sample>.Empty);
        Assert.Equal(0, result.StoredCount);
        Assert.Empty(result.Outcomes);
    }

    [ServerFact]
    public async Task StoreSamples_rounds_timestamps_to_whole_seconds()
    {
        var m = await NewCustomAsync();
        await Repository.StoreSamplesAsync(m.Uid, new[] { new Sample(s_t0.AddMilliseconds(400), 1), new Sample(s_t0.AddSeconds(10).AddMilliseconds(600), 2) });
        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid });
        Assert.Equal(new[] { s_t0, s_t0.AddSeconds(11) }, rows.Select(r => r.Timestamp));
    }

    [ServerFact]
    public async Task StoreSamples_handles_large_batches_in_one_transaction()
    {
        var m = await NewCustomAsync();
        var result = await Repository.StoreSamplesAsync(m.Uid, Series(5_500, s_t0, 60, 0.125));
        Assert.Equal(5_500, result.StoredCount);
        Assert.Equal(5_500, await Repository.GetMetricDataCountAsync(m.Uid));
        var last = Assert.Single(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid, Rowid = 5_500 }));
        Assert.Equal(0.125 + 5_499, last.MetricValue);
        Assert.Equal(s_t0.AddSeconds(60L * 5_499), last.Timestamp);
        Assert.Equal((0.125, 0.125 + 5_499), await Repository.GetMetricStatsAsync(m.Uid));
    }

    // ------------------------------------------------------------ scores

    [ServerFact]
    public async Task UpdateScores_writes_the_model_results_and_counts_existing_rows()
    {
        var m = await NewCustomAsync();
        await Repository.StoreSamplesAsync(m.Uid, Series(4, s_t0));
        var updated = await Repository.UpdateScoresAsync(m.Uid, new[]
        {
            new ScoreUpdate(1, null, null, null),
            new ScoreUpdate(2, 0.5, 0.75, 2, "{\"5\":1.5}"),
            new ScoreUpdate(3, 1.0, 0.9999, 4),
            new ScoreUpdate(99, 1.0, 1.0, 1), // no such row
        });
        Assert.Equal(3, updated);

        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid });
        Assert.Null(rows[0].RawAnomalyScore);
        Assert.Null(rows[0].MultiStepBestPredictions);
        Assert.Equal((0.5, 0.75, 2, "{\"5\":1.5}"), (rows[1].RawAnomalyScore!.Value, rows[1].AnomalyScore!.Value, rows[1].DisplayValue!.Value, rows[1].MultiStepBestPredictions));
        Assert.Equal((1.0, 0.9999, 4), (rows[2].RawAnomalyScore!.Value, rows[2].AnomalyScore!.Value, rows[2].DisplayValue!.Value));
        Assert.Null(rows[3].AnomalyScore);
        Assert.Equal(0, await Repository.UpdateScoresAsync(m.Uid, ReadOnlyMemory<ScoreUpdate>.Empty));
    }

    [ServerFact]
    public async Task UpdateScores_handles_more_rows_than_one_statement_holds()
    {
        var m = await NewCustomAsync();
        await Repository.StoreSamplesAsync(m.Uid, Series(1_234, s_t0));
        var updates = new ScoreUpdate[1_234];
        for (var i = 0; i < updates.Length; i++)
        {
            updates[i] = new ScoreUpdate(i + 1, i / 10_000.0, i / 20_000.0, i % 7);
        }

        Assert.Equal(1_234, await Repository.UpdateScoresAsync(m.Uid, updates));
        var row = Assert.Single(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid, Rowid = 1_000 }));
        Assert.Equal((999 / 10_000.0, 999 / 20_000.0, 999 % 7), (row.RawAnomalyScore!.Value, row.AnomalyScore!.Value, row.DisplayValue!.Value));
    }

    // ------------------------------------------------------------ queries

    private async Task<MetricRow> ScoredSeriesAsync()
    {
        // Ten rows 5 minutes apart; rows 3, 6 and 9 scored 0.3, 0.6 and 0.9; row 5 scored 0.
        var m = await NewCustomAsync();
        await Repository.StoreSamplesAsync(m.Uid, Series(10, s_t0));
        await Repository.UpdateScoresAsync(m.Uid, new[]
        {
            new ScoreUpdate(3, 0.1, 0.3, 1),
            new ScoreUpdate(5, 0.0, 0.0, 0),
            new ScoreUpdate(6, 0.2, 0.6, 2),
            new ScoreUpdate(9, 0.3, 0.9, 3),
        });
        return m;
    }

    private async Task<long[]> RowidsAsync(MetricDataQuery query)
        => (await Repository.GetMetricDataAsync(query)).Select(r => r.Rowid).ToArray();

    [ServerFact]
    public async Task GetMetricData_filters_by_rowid_range_exact_rowid_and_time_range()
    {
        var m = await ScoredSeriesAsync();
        Assert.Equal(new long[] { 4, 5, 6 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, StartRowid = 4, StopRowid = 6 }));
        Assert.Equal(new long[] { 7 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Rowid = 7 }));
        Assert.Equal(new long[] { 3, 4, 5 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, FromTimestamp = s_t0.AddMinutes(10), ToTimestamp = s_t0.AddMinutes(20) }));
        Assert.Equal(new long[] { 9, 10 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, FromTimestamp = s_t0.AddMinutes(40) }));
        Assert.Equal(new long[] { 1, 2 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, ToTimestamp = s_t0.AddMinutes(5) }));
        Assert.Equal(new long[] { 5 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, StartRowid = 4, FromTimestamp = s_t0.AddMinutes(20), ToTimestamp = s_t0.AddMinutes(20) }));
    }

    [ServerFact]
    public async Task GetMetricData_filters_by_minimum_anomaly_score()
    {
        var m = await ScoredSeriesAsync();
        Assert.Equal(new long[] { 6, 9 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, MinScore = 0.5 }));
        Assert.Equal(new long[] { 3, 5, 6, 9 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, MinScore = 0 }));
        Assert.Equal(10, (await RowidsAsync(new MetricDataQuery { Uid = m.Uid })).Length);
    }

    [ServerFact]
    public async Task GetMetricData_sorts_limits_and_offsets()
    {
        var m = await ScoredSeriesAsync();
        Assert.Equal(new long[] { 10, 9, 8 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Sort = MetricDataSort.RowidDescending, Limit = 3 }));
        Assert.Equal(new long[] { 10, 9 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Sort = MetricDataSort.TimestampDescending, Limit = 2 }));
        Assert.Equal(new long[] { 1, 2 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Sort = MetricDataSort.TimestampAscending, Limit = 2 }));
        Assert.Equal(new long[] { 9, 6, 3 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Sort = MetricDataSort.AnomalyScoreDescending, Limit = 3 }));
        Assert.Equal(new long[] { 4, 5 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Limit = 2, Offset = 3 }));
        Assert.Equal(new long[] { 9, 10 }, await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Offset = 8 }));
        Assert.Empty(await RowidsAsync(new MetricDataQuery { Uid = m.Uid, Limit = 0 }));
    }

    [ServerFact]
    public async Task GetMetricData_returns_only_the_fields_asked_for()
    {
        var m = await ScoredSeriesAsync();
        var row = Assert.Single(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid, Rowid = 6, Fields = MetricDataFields.AnomalyScore }));
        Assert.Equal(new MetricDataRow(m.Uid, 6, default, 0, null, 0.6, null, null), row);

        row = Assert.Single(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid, Rowid = 6, Fields = MetricDataFields.Timestamp | MetricDataFields.MetricValue }));
        Assert.Equal(new MetricDataRow(m.Uid, 6, s_t0.AddMinutes(25), 5, null, null, null, null), row);

        row = Assert.Single(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = m.Uid, Rowid = 6 }));
        Assert.Equal(new MetricDataRow(m.Uid, 6, s_t0.AddMinutes(25), 5, 0.2, 0.6, 2, null), row);
    }

    [ServerFact]
    public async Task GetMetricData_without_a_uid_spans_metrics()
    {
        var from = s_t0.AddYears(3).AddSeconds(Random.Shared.Next(1_000_000));
        var a = await NewCustomAsync();
        var b = await NewCustomAsync();
        await Repository.StoreSamplesAsync(a.Uid, Series(2, from, 1));
        await Repository.StoreSamplesAsync(b.Uid, Series(2, from, 1));
        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { FromTimestamp = from, ToTimestamp = from.AddSeconds(1) });
        Assert.Equal(4, rows.Count(r => r.Uid == a.Uid || r.Uid == b.Uid));
    }

    [ServerFact]
    public async Task Count_and_stats_of_a_metric_without_samples()
    {
        var m = await NewCustomAsync();
        Assert.Equal(0, await Repository.GetMetricDataCountAsync(m.Uid));
        Assert.Null(await Repository.GetMetricStatsAsync(m.Uid));
    }
}
