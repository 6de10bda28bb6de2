using System.Collections.Concurrent;
using System.Text.Json;
using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Gc;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Runtime;

/// <summary>
/// The anomaly service and the garbage collector on one backend pair (embedded SQLite + in-process bus, or MariaDB +
/// RabbitMQ). Results are published by the test itself, as a shard runner would.
/// </summary>
public abstract partial class AnomalyServiceContract : IAsyncLifetime
{
    /// <summary>Small settings so a few hundred rows go through initialisation, the null distribution and several refreshes.</summary>
    protected static readonly EngineLikelihoodSettings Small = new(MinSampleSize: 20, RefreshRate: 8, SampleSize: 80, SkipRecords: 30);

    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(180);
    private static readonly DateTime s_start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly string _prefix = "anomalytest-" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<AnomalyService> _services = [];
    private IBusSubscription? _subscriber;

    protected IMetricRepository Repository { get; private set; } = null!;

    protected IMessageBus Bus { get; private set; } = null!;

    protected string ResultsQueue => _prefix + ".results";

    protected string Exchange => _prefix + ".model.results";

    protected string SubscriberQueue => _prefix + ".subscriber";

    /// <summary>Messages the subscriber received from the results exchange, in arrival order.</summary>
    protected ConcurrentQueue<BusMessage> Received { get; } = new();

    protected abstract Task<IMetricRepository> OpenRepositoryAsync();

    protected abstract Task<IMessageBus> CreateBusAsync();

    protected abstract Task DropRepositoryAsync();

    public virtual async Task InitializeAsync()
    {
        Repository = await OpenRepositoryAsync();
        Bus = await CreateBusAsync();
        await Bus.DeclareQueueAsync(ResultsQueue);
        await Bus.DeclareFanoutExchangeAsync(Exchange);
        await Bus.DeclareQueueAsync(SubscriberQueue);
        await Bus.BindQueueAsync(SubscriberQueue, Exchange);
        _subscriber = await Bus.ConsumeAsync(
            SubscriberQueue,
            (m, ct) =>
            {
                Received.Enqueue(m);
                return ValueTask.FromResult(ConsumeOutcome.Ack);
            },
            new ConsumerOptions(Prefetch: 50));
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var service in _services)
        {
            await service.StopAsync(CancellationToken.None);
        }

        if (_subscriber is not null)
        {
            await _subscriber.DisposeAsync();
        }

        if (Bus is not null)
        {
            await Bus.DeleteQueueAsync(ResultsQueue);
            await Bus.DeleteQueueAsync(SubscriberQueue);
            await Bus.DeleteExchangeAsync(Exchange);
            await Bus.DisposeAsync();
        }

        if (Repository is not null)
        {
            await Repository.DisposeAsync();
            await DropRepositoryAsync();
        }
    }

    // ---------------------------------------------------------------- helpers

    protected async Task<AnomalyService> StartServiceAsync(EngineLikelihoodSettings settings)
    {
        var service = new AnomalyService(Repository, Bus, new AnomalyServiceOptions(ResultsQueue, Exchange, settings));
        await service.StartAsync(CancellationToken.None);
        _services.Add(service);
        return service;
    }

    /// <summary>A series that is not flat: a daily wave with noise, and raw scores with occasional spikes.</summary>
    protected static (DateTime[] Timestamps, double[] Values, double[] Raw) Series(int n, int seed)
    {
        var random = new Random(seed);
        var timestamps = new DateTime[n];
        var values = new double[n];
        var raw = new double[n];
        for (int i = 0; i < n; i++)
        {
            timestamps[i] = s_start.AddMinutes(5 * i);
            values[i] = 50 + (20 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble();
            raw[i] = random.NextDouble() < 0.05 ? 0.9 + (0.1 * random.NextDouble()) : 0.2 * random.NextDouble();
        }

        return (timestamps, values, raw);
    }

    /// <summary>
    /// What <c>htmengine detect --likelihood engine</c> computes: the likelihood helper fed one row at a time, with
    /// every earlier row as history.
    /// </summary>
    protected static double[] ReferenceScores(EngineLikelihoodSettings settings, DateTime[] timestamps, double[] values, double[] raw) =>
        EngineLikelihoodSeries.Score(settings, timestamps, values, raw);

    protected async Task<MetricRow> CreateMetricAsync(string name, MetricStatus status, DateTime[] timestamps, double[] values)
    {
        var metric = await Repository.CreateMetricAsync(new NewMetric(_prefix + "." + name)
        {
            Status = status,
            Server = "server-" + name,
            Parameters = "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"" + _prefix + "." + name + "\",\"unit\":\"ms\"},\"modelParams\":{\"min\":0,\"max\":100}}",
        });
        if (timestamps.Length > 0)
        {
            var samples = new Sample[timestamps.Length];
            for (int i = 0; i < samples.Length; i++)
            {
                samples[i] = new Sample(timestamps[i], values[i]);
            }

            var stored = await Repository.StoreSamplesAsync(metric.Uid, samples);
            Assert.Equal(samples.Length, stored.StoredCount);
            Assert.Equal(1, stored.FirstRowid);
        }

        return metric;
    }

    protected static ModelResult[] Results(string uid, DateTime[] timestamps, double[] values, double[] raw, int from, int count)
    {
        var results = new ModelResult[count];
        for (int i = 0; i < count; i++)
        {
            int k = from + i;
            results[i] = ModelResult.Scored(uid, k + 1, timestamps[k], values[k], raw[k]);
        }

        return results;
    }

    protected async Task PublishResultsAsync(params ModelResult[][] messages)
    {
        var batch = new List<OutgoingMessage>(messages.Length);
        foreach (var results in messages)
        {
            batch.Add(new OutgoingMessage(ModelMessageCodec.EncodeResults(results), ContentType: ModelMessageCodec.ResultsContentType));
        }

        await Bus.PublishToQueueAsync(ResultsQueue, batch);
    }

    protected async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    protected async Task WaitCoveredAsync(string uid, long rowid) =>
        await WaitForAsync(
            async () => LikelihoodEnvelope.ReadRowid((await Repository.GetMetricAsync(uid)).ModelParams),
            covered => covered >= rowid,
            $"metric {uid} to be scored up to row {rowid}");

    /// <summary>The inference rows the subscriber saw for a metric: (rowid, raw, anomaly), in arrival order.</summary>
    protected List<(long Rowid, double Raw, double Anomaly, double Ts, double Value)> PublishedRows(string uid)
    {
        var rows = new List<(long, double, double, double, double)>();
        foreach (var message in Received)
        {
            if (message.Headers.ContainsKey(ResultsMessages.DataTypeHeader))
            {
                continue;
            }

            using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
            if (json.RootElement.GetProperty("metric").GetProperty("uid").GetString() != uid)
            {
                continue;
            }

            foreach (var r in json.RootElement.GetProperty("results").EnumerateArray())
            {
                rows.Add((r.GetProperty("rowid").GetInt64(), r.GetProperty("rawAnomaly").GetDouble(), r.GetProperty("anomaly").GetDouble(), r.GetProperty("ts").GetDouble(), r.GetProperty("value").GetDouble()));
            }
        }

        return rows;
    }

    protected List<JsonDocument> CommandMessages(string uid)
    {
        var list = new List<JsonDocument>();
        foreach (var message in Received)
        {
            if (message.Headers.TryGetValue(ResultsMessages.DataTypeHeader, out var type) && type == ResultsMessages.ModelCommandResultDataType)
            {
                var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
                if (json.RootElement.GetProperty("modelId").GetString() == uid)
                {
                    list.Add(json);
                }
            }
        }

        return list;
    }

    /// <summary>Asserts that metric_data and the exchange hold exactly the reference scores, bit for bit.</summary>
    protected async Task AssertScoredAsync(string uid, double[] raw, double[] expected, DateTime[] timestamps, double[] values)
    {
        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid });
        Assert.Equal(raw.Length, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(i + 1, rows[i].Rowid);
            Assert.Equal(BitConverter.DoubleToInt64Bits(raw[i]), BitConverter.DoubleToInt64Bits(rows[i].RawAnomalyScore!.Value));
            Assert.True(
                BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(rows[i].AnomalyScore!.Value),
                $"row {i + 1}: anomaly_score {rows[i].AnomalyScore:R}, expected {expected[i]:R}");
            Assert.Equal((int)Math.Round(DisplayValue.Compute(expected[i]), MidpointRounding.AwayFromZero), rows[i].DisplayValue);
        }

        // On the exchange: every row, first copies in rowid order (redelivered rows may come again, with the same scores).
        var published = await WaitForAsync(() => Task.FromResult(PublishedRows(uid)), p => DistinctCount(p) >= raw.Length, $"{raw.Length} published rows of {uid}");
        long next = 1;
        foreach (var p in published)
        {
            int i = (int)p.Rowid - 1;
            Assert.Equal(BitConverter.DoubleToInt64Bits(raw[i]), BitConverter.DoubleToInt64Bits(p.Raw));
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected[i]), BitConverter.DoubleToInt64Bits(p.Anomaly));
            Assert.Equal(values[i], p.Value);
            Assert.Equal((timestamps[i] - DateTime.UnixEpoch).TotalSeconds, p.Ts);
            if (p.Rowid == next)
            {
                next++;
            }
            else
            {
                Assert.True(p.Rowid < next, $"row {p.Rowid} published before row {next}");
            }
        }

        Assert.Equal(raw.Length + 1, next);
    }

    private static int DistinctCount(List<(long Rowid, double Raw, double Anomaly, double Ts, double Value)> rows)
    {
        var set = new HashSet<long>();
        foreach (var r in rows)
        {
            set.Add(r.Rowid);
        }

        return set.Count;
    }

    // ---------------------------------------------------------------- the contract

    public async Task Scores_equal_the_reference_whatever_the_batching()
    {
        const int N = 260;
        var (ts, values, raw) = Series(N, seed: 7);
        var expected = ReferenceScores(Small, ts, values, raw);
        var one = await CreateMetricAsync("one", MetricStatus.Active, ts, values);
        var single = await CreateMetricAsync("single", MetricStatus.Active, ts, values);
        var mixed = await CreateMetricAsync("mixed", MetricStatus.Active, ts, values);

        var messages = new List<ModelResult[]> { Results(one.Uid, ts, values, raw, 0, N) };
        for (int i = 0; i < N; i++)
        {
            messages.Add(Results(single.Uid, ts, values, raw, i, 1));
        }

        // Uneven chunks, one of them delivered twice (a redelivery), one mixed with another metric's results.
        var random = new Random(3);
        for (int at = 0; at < N;)
        {
            int size = Math.Min(N - at, 1 + random.Next(37));
            var chunk = Results(mixed.Uid, ts, values, raw, at, size);
            messages.Add(chunk);
            if (at == 0 || random.Next(5) == 0)
            {
                messages.Add(chunk);
            }

            at += size;
        }

        await PublishResultsAsync([.. messages]);
        var service = await StartServiceAsync(Small);
        await WaitCoveredAsync(one.Uid, N);
        await WaitCoveredAsync(single.Uid, N);
        await WaitCoveredAsync(mixed.Uid, N);
        await AssertScoredAsync(one.Uid, raw, expected, ts, values);
        await AssertScoredAsync(single.Uid, raw, expected, ts, values);
        await AssertScoredAsync(mixed.Uid, raw, expected, ts, values);
        Assert.Equal(3 * N, service.Counters.Scored);

        // Not fed twice: the persisted state is the same for every batching.
        var a = (await Repository.GetMetricAsync(one.Uid)).ModelParams;
        var b = (await Repository.GetMetricAsync(single.Uid)).ModelParams;
        var c = (await Repository.GetMetricAsync(mixed.Uid)).ModelParams;
        Assert.Equal(EngineLikelihoodState.ToJson(LikelihoodEnvelope.Read(a).State), EngineLikelihoodState.ToJson(LikelihoodEnvelope.Read(b).State));
        Assert.Equal(EngineLikelihoodState.ToJson(LikelihoodEnvelope.Read(a).State), EngineLikelihoodState.ToJson(LikelihoodEnvelope.Read(c).State));
        Assert.NotNull(LikelihoodEnvelope.Read(a).State);
    }

    public async Task Default_settings_match_the_reference_past_the_skipped_day()
    {
        const int N = 520;
        var (ts, values, raw) = Series(N, seed: 11);
        var settings = EngineLikelihoodSettings.Default;
        var expected = ReferenceScores(settings, ts, values, raw);
        Assert.Contains(expected[400..], s => s != 0.5 && s != 0); // past 100 + 288 rows the scores follow the data
        var metric = await CreateMetricAsync("defaults", MetricStatus.Active, ts, values);
        var chunks = new List<ModelResult[]>();
        for (int at = 0; at < N; at += 130)
        {
            chunks.Add(Results(metric.Uid, ts, values, raw, at, Math.Min(130, N - at)));
        }

        await PublishResultsAsync([.. chunks]);
        await StartServiceAsync(settings);
        await WaitCoveredAsync(metric.Uid, N);
        await AssertScoredAsync(metric.Uid, raw, expected, ts, values);
    }

    public async Task Results_after_a_gap_wait_for_the_missing_ones()
    {
        const int N = 60;
        var (ts, values, raw) = Series(N, seed: 5);
        var expected = ReferenceScores(Small, ts, values, raw);
        var metric = await CreateMetricAsync("gap", MetricStatus.Active, ts, values);

        // The second half first, as a requeue would deliver it.
        await PublishResultsAsync(Results(metric.Uid, ts, values, raw, 30, 30), Results(metric.Uid, ts, values, raw, 0, 30));
        await StartServiceAsync(Small);
        await WaitCoveredAsync(metric.Uid, N);
        await AssertScoredAsync(metric.Uid, raw, expected, ts, values);
    }

    public async Task A_database_outage_is_waited_out_in_place_not_dead_lettered()
    {
        // More outages than MaxFailedAttempts (5): counted as failures, they would dead-letter the message and leave
        // its rows without anomaly scores (issue #7).
        const int N = 60;
        const int Outages = 7;
        var (ts, values, raw) = Series(N, seed: 8);
        var expected = ReferenceScores(Small, ts, values, raw);
        var metric = await CreateMetricAsync("outage", MetricStatus.Active, ts, values);
        var (repository, outage) = HtmEngine.Tests.Unit.Runtime.OutageRepository.Wrap(Repository, Outages, nameof(IMetricRepository.GetMetricsAsync));
        var service = new AnomalyService(repository, Bus, new AnomalyServiceOptions(ResultsQueue, Exchange, Small));
        await service.StartAsync(CancellationToken.None);
        _services.Add(service);

        await PublishResultsAsync(Results(metric.Uid, ts, values, raw, 0, N));
        await WaitCoveredAsync(metric.Uid, N);
        await AssertScoredAsync(metric.Uid, raw, expected, ts, values);
        Assert.Equal(Outages, outage.Failures);
        Assert.Equal(0, await Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(ResultsQueue)));
    }

    public async Task Define_model_success_activates_the_metric_and_is_published()
    {
        var metric = await CreateMetricAsync("define", MetricStatus.CreatePending, [], []);
        await StartServiceAsync(Small);
        await PublishResultsAsync([ModelResult.ForCommand(metric.Uid, "cmd-1", "defineModel", 0, null)]);
        await WaitForAsync(() => Repository.GetMetricAsync(metric.Uid), m => m.Status == MetricStatus.Active, "ACTIVE");
        var message = (await WaitForAsync(() => Task.FromResult(CommandMessages(metric.Uid)), l => l.Count == 1, "the command result"))[0].RootElement;
        Assert.Equal("defineModel", message.GetProperty("method").GetString());
        Assert.Equal("cmd-1", message.GetProperty("commandId").GetString());
        Assert.Equal(0, message.GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("errorMessage").ValueKind);
        var info = message.GetProperty("modelInfo");
        Assert.Equal(metric.Name, info.GetProperty("metricName").GetString());
        Assert.Equal("server-define", info.GetProperty("resource").GetString());
        Assert.Equal("ms", info.GetProperty("modelSpec").GetProperty("metricSpec").GetProperty("unit").GetString());
        Assert.Null((await Repository.GetMetricAsync(metric.Uid)).Message);
    }

    public async Task Define_model_failure_sets_error_with_the_message()
    {
        var metric = await CreateMetricAsync("badmodel", MetricStatus.CreatePending, [], []);
        await StartServiceAsync(Small);
        await PublishResultsAsync([ModelResult.ForCommand(metric.Uid, "cmd-2", "defineModel", 1, "min must be below max")]);
        var row = await WaitForAsync(() => Repository.GetMetricAsync(metric.Uid), m => m.Status == MetricStatus.Error, "ERROR");
        Assert.Equal("min must be below max", row.Message);
        var message = (await WaitForAsync(() => Task.FromResult(CommandMessages(metric.Uid)), l => l.Count == 1, "the command result"))[0].RootElement;
        Assert.Equal(1, message.GetProperty("status").GetInt32());
        Assert.Equal("min must be below max", message.GetProperty("errorMessage").GetString());
        Assert.False(message.TryGetProperty("modelInfo", out _));
    }

    public async Task Delete_model_result_is_published_even_for_a_deleted_metric()
    {
        await StartServiceAsync(Small);
        string uid = Guid.NewGuid().ToString("N");
        await PublishResultsAsync([ModelResult.ForCommand(uid, "cmd-3", "deleteModel", 0, null)]);
        var message = (await WaitForAsync(() => Task.FromResult(CommandMessages(uid)), l => l.Count == 1, "the command result"))[0].RootElement;
        Assert.Equal("deleteModel", message.GetProperty("method").GetString());
        Assert.Equal(0, message.GetProperty("status").GetInt32());
    }

    public async Task Results_of_unknown_or_inactive_metrics_are_dropped_and_acknowledged()
    {
        var (ts, values, raw) = Series(10, seed: 1);
        var unmonitored = await CreateMetricAsync("unmonitored", MetricStatus.Unmonitored, ts, values);
        var active = await CreateMetricAsync("after", MetricStatus.Active, ts, values);
        var service = await StartServiceAsync(Small);
        await PublishResultsAsync(
            Results(Guid.NewGuid().ToString("N"), ts, values, raw, 0, 10),
            Results(unmonitored.Uid, ts, values, raw, 0, 10),
            Results(active.Uid, ts, values, raw, 0, 10));
        await WaitCoveredAsync(active.Uid, 10);
        Assert.Equal(20, service.Counters.Dropped);
        Assert.Equal(0, await Bus.GetReadyCountAsync(ResultsQueue));
        Assert.Equal(0, await Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(ResultsQueue)));
        var rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = unmonitored.Uid });
        Assert.All(rows, r => Assert.Null(r.RawAnomalyScore));
        Assert.Empty(PublishedRows(unmonitored.Uid));
    }

    public async Task Results_of_several_metrics_in_one_message_are_committed_together()
    {
        const int N = 260;
        var (ts, values, raw) = Series(N, seed: 11);
        var expected = ReferenceScores(Small, ts, values, raw);
        var first = await CreateMetricAsync("together1", MetricStatus.Active, ts, values);
        var inactive = await CreateMetricAsync("together2", MetricStatus.Unmonitored, ts, values);
        var second = await CreateMetricAsync("together3", MetricStatus.Active, ts, values);
        var service = await StartServiceAsync(Small);

        // Two messages, each with three metrics' results interleaved row by row, as the runners' catch-up chunks are.
        var messages = new ModelResult[2][];
        for (int m = 0; m < 2; m++)
        {
            var a = Results(first.Uid, ts, values, raw, m * (N / 2), N / 2);
            var b = Results(inactive.Uid, ts, values, raw, m * 5, 5);
            var c = Results(second.Uid, ts, values, raw, m * (N / 2), N / 2);
            var mixed = new List<ModelResult>();
            for (int i = 0; i < N / 2; i++)
            {
                mixed.Add(a[i]);
                mixed.Add(c[i]);
                if (i < b.Length)
                {
                    mixed.Add(b[i]);
                }
            }

            messages[m] = [.. mixed];
        }

        await PublishResultsAsync(messages);
        await WaitCoveredAsync(first.Uid, N);
        await WaitCoveredAsync(second.Uid, N);
        await AssertScoredAsync(first.Uid, raw, expected, ts, values);
        await AssertScoredAsync(second.Uid, raw, expected, ts, values);
        Assert.Equal(10, service.Counters.Dropped);
        Assert.All(await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = inactive.Uid }), r => Assert.Null(r.RawAnomalyScore));

        // One transaction per message, or one for both when they were taken as one batch; never one per metric.
        Assert.InRange(service.Timings.Calls(3), 1, 2);
        Assert.Equal("commit", service.Timings.Name(3));
    }

    public async Task Undecodable_message_is_dead_lettered_and_the_service_goes_on()
    {
        var (ts, values, raw) = Series(5, seed: 2);
        var metric = await CreateMetricAsync("afterbad", MetricStatus.Active, ts, values);
        var service = await StartServiceAsync(Small);
        await Bus.PublishToQueueAsync(ResultsQueue, [new OutgoingMessage("not a result"u8.ToArray())]);
        await PublishResultsAsync(Results(metric.Uid, ts, values, raw, 0, 5));
        await WaitCoveredAsync(metric.Uid, 5);
        Assert.Equal(1, service.Counters.RejectedMessages);
        await WaitForAsync(() => Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(ResultsQueue)).AsTask(), n => n == 1, "the dead-lettered message");
    }

    public async Task Failed_inference_puts_the_metric_in_error()
    {
        var (ts, values, raw) = Series(5, seed: 4);
        var metric = await CreateMetricAsync("failing", MetricStatus.Active, ts, values);
        await StartServiceAsync(Small);
        var results = Results(metric.Uid, ts, values, raw, 0, 5);
        results[3] = new ModelResult(ModelResultKind.Inference, metric.Uid, 4, ts[3], values[3], 0, 2, "model exploded", null, null);
        await PublishResultsAsync(results);
        var row = await WaitForAsync(() => Repository.GetMetricAsync(metric.Uid), m => m.Status == MetricStatus.Error, "ERROR");
        Assert.Equal("model exploded", row.Message);
        var data = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = metric.Uid });
        Assert.All(data, r => Assert.Null(r.AnomalyScore));
    }

    public async Task Likelihood_state_keeps_the_other_members_of_model_params()
    {
        var (ts, values, raw) = Series(30, seed: 6);
        var metric = await CreateMetricAsync("params", MetricStatus.Active, ts, values);
        var definition = new ModelDefinition("nab", 0, 100);
        await Repository.SetModelParamsAsync(metric.Uid, "{\"modelDefinition\":" + definition.ToJson() + "}");
        await StartServiceAsync(Small);
        await PublishResultsAsync(Results(metric.Uid, ts, values, raw, 0, 30));
        await WaitCoveredAsync(metric.Uid, 30);
        using var json = JsonDocument.Parse((await Repository.GetMetricAsync(metric.Uid)).ModelParams!);
        Assert.Equal(definition, ModelDefinition.FromJson(json.RootElement.GetProperty("modelDefinition").GetRawText()));
        Assert.Equal(30, json.RootElement.GetProperty(LikelihoodEnvelope.MemberName).GetProperty("rowid").GetInt64());
        Assert.Equal(JsonValueKind.Object, json.RootElement.GetProperty(LikelihoodEnvelope.MemberName).GetProperty("state").ValueKind);
    }

    public async Task Gc_deletes_old_rows_but_never_the_likelihood_sample_nor_unscored_rows()
    {
        var old = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var ts = new DateTime[50];
        var values = new double[50];
        for (int i = 0; i < 50; i++)
        {
            ts[i] = old.AddMinutes(5 * i);
            values[i] = i;
        }

        var monitored = await CreateMetricAsync("gc-active", MetricStatus.Active, ts, values);
        var updates = new ScoreUpdate[40];
        for (int i = 0; i < 40; i++)
        {
            updates[i] = new ScoreUpdate(i + 1, 0.1, 0.5, 1000);
        }

        Assert.Equal(40, await Repository.UpdateScoresAsync(monitored.Uid, updates));
        var unmonitored = await CreateMetricAsync("gc-unmonitored", MetricStatus.Unmonitored, ts[..20], values[..20]);
        var recentTs = new DateTime[30];
        for (int i = 0; i < 30; i++)
        {
            recentTs[i] = DateTime.UtcNow.AddMinutes(-5 * (30 - i));
        }

        var recent = await CreateMetricAsync("gc-recent", MetricStatus.Unmonitored, recentTs, values[..30]);

        var gc = new MetricGarbageCollectorService(Repository, new MetricGarbageCollectorOptions(ThresholdDays: 1, TimeSpan.FromHours(1), BatchSize: 7, KeepNewestScored: 10));
        long deleted = await gc.CollectOnceAsync();

        var left = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = monitored.Uid, Fields = MetricDataFields.None });
        Assert.Equal(31, left[0].Rowid); // rows 1-30 went; the newest 10 scored (31-40) and the unscored 41-50 stay
        Assert.Equal(20, left.Count);
        var leftUnmonitored = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = unmonitored.Uid, Fields = MetricDataFields.None });
        Assert.Equal(10, leftUnmonitored.Count);
        Assert.Equal(11, leftUnmonitored[0].Rowid);
        Assert.Equal(30, await Repository.GetMetricDataCountAsync(recent.Uid));
        Assert.Equal(40, deleted);
        Assert.Equal(40, gc.DeletedRows);
        Assert.Equal(0, await gc.CollectOnceAsync());
        Assert.Equal(20, await Repository.GetMetricDataCountAsync(monitored.Uid));
    }
}
