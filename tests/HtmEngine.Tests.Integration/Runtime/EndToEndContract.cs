using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Runtime.Models;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Runtime;

/// <summary>
/// The whole engine in one process, composed as <c>htmengine serve</c> composes it: Graphite lines over TCP for several
/// metrics, monitored through the datasource adapter, must come out as scores in <c>metric_data</c> and on the results
/// exchange, in rowid order, bit-identical to running the model and the likelihood helper directly on the same series
/// with the same model definition (what <c>htmengine detect --likelihood engine</c> does).
/// </summary>
public abstract partial class EndToEndContract : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(300);
    private readonly string _id = Guid.NewGuid().ToString("N")[..10];
    private readonly string _checkpoints = Path.Combine(Path.GetTempPath(), "htmengine-e2e-ckpt-" + Guid.NewGuid().ToString("N"));
    private readonly List<IEngineService> _started = [];
    private readonly ConcurrentQueue<BusMessage> _received = new();
    private EngineRuntime? _runtime;
    private IBusSubscription? _subscriber;
    private string _subscriberQueue = string.Empty;

    protected EngineOptions Engine { get; private set; } = null!;

    /// <summary>The configuration to start from (the backends); queue names, ports and paths are made unique here.</summary>
    protected abstract EngineOptions BaseOptions();

    protected virtual Task CleanUpBackendAsync(EngineOptions engine) => Task.CompletedTask;

    public virtual async Task InitializeAsync()
    {
        var b = BaseOptions();
        string p = "htmengine_e2e_" + _id;
        Engine = b with
        {
            MetricListener = b.MetricListener with { PlaintextPort = 0, QueueName = p + ".metric.custom.data" },
            MetricStreamer = b.MetricStreamer with { ResultsExchangeName = p + ".model.results" },
            ModelSwapper = b.ModelSwapper with { ResultsQueue = p + ".mswapper.results", ModelInputQueuePrefix = p + ".mswapper.model.input.", Shards = 2 },
            AnomalyLikelihood = new AnomalyLikelihoodOptions(MinSampleSize: 20, RefreshRate: 8, SampleSize: 8640), // the fit skips its first 288 rows
            CheckpointRoot = _checkpoints,
            Web = b.Web with { Listen = new ListenEndpoint("127.0.0.1", 0) }, // any free port: tests run side by side
        };
        _runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(Engine));
        _subscriberQueue = p + ".subscriber";
        await _runtime.Bus.DeclareQueueAsync(_subscriberQueue);
        await _runtime.Bus.BindQueueAsync(_subscriberQueue, Engine.MetricStreamer.ResultsExchangeName);
        _subscriber = await _runtime.Bus.ConsumeAsync(
            _subscriberQueue,
            (m, ct) =>
            {
                _received.Enqueue(m);
                return ValueTask.FromResult(ConsumeOutcome.Ack);
            },
            new ConsumerOptions(Prefetch: 100));

        // Every default service, built by the catalog's factories, started in catalog order.
        foreach (var entry in ServiceCatalog.Defaults)
        {
            var service = entry.Create!(Engine, _runtime);
            await service.StartAsync(CancellationToken.None);
            _started.Add(service);
        }
    }

    public virtual async Task DisposeAsync()
    {
        for (int i = _started.Count - 1; i >= 0; i--)
        {
            await _started[i].StopAsync(CancellationToken.None);
            if (_started[i] is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }

        if (_subscriber is not null)
        {
            await _subscriber.DisposeAsync();
        }

        if (_runtime is not null)
        {
            var bus = _runtime.Bus;
            var o = _runtime.Options;
            await bus.DeleteQueueAsync(_subscriberQueue);
            await bus.DeleteQueueAsync(o.MetricDataQueue);
            await bus.DeleteQueueAsync(o.ResultsQueue);
            for (int shard = 0; shard < o.Shards; shard++)
            {
                await bus.DeleteQueueAsync(ModelShards.InputQueue(o.ModelInputQueuePrefix, shard));
            }

            await bus.DeleteExchangeAsync(o.ResultsExchange);
            await _runtime.DisposeAsync();
            await CleanUpBackendAsync(Engine);
        }

        if (Directory.Exists(_checkpoints))
        {
            Directory.Delete(_checkpoints, recursive: true);
        }
    }

    public async Task Graphite_lines_come_out_as_the_reference_scores_in_the_database_and_on_the_exchange()
    {
        const int N = 400;
        string[] names = ["e2e." + _id + ".cpu", "e2e." + _id + ".latency", "e2e." + _id + ".queue"];
        var runtime = _runtime!;
        var adapter = EngineComposition.Adapter(Engine, runtime);
        var uids = new string[names.Length];
        for (int m = 0; m < names.Length; m++)
        {
            uids[m] = await adapter.MonitorMetricAsync("{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"" + names[m] + "\"},\"modelParams\":{\"min\":0,\"max\":100}}");
        }

        // The series: whole-second timestamps 5 minutes apart; values with few decimals so the text round-trips.
        var start = new DateTime(2024, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        var timestamps = new DateTime[N];
        var values = new double[names.Length][];
        var random = new Random(17);
        for (int m = 0; m < names.Length; m++)
        {
            values[m] = new double[N];
        }

        for (int i = 0; i < N; i++)
        {
            timestamps[i] = start.AddMinutes(5 * i);
            for (int m = 0; m < names.Length; m++)
            {
                double wave = 50 + (30 * Math.Sin((i + (40 * m)) * 2 * Math.PI / 48));
                values[m][i] = Math.Round(i == 350 && m == 1 ? 99 : wave + (3 * random.NextDouble()), 2);
            }
        }

        var listener = _started.OfType<ListenerService>().Single();
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, listener.LocalEndPoint!.Port);
            var stream = client.GetStream();
            var text = new StringBuilder();
            for (int i = 0; i < N; i++)
            {
                long epoch = (long)(timestamps[i] - DateTime.UnixEpoch).TotalSeconds;
                for (int m = 0; m < names.Length; m++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{names[m]} {values[m][i].ToString("R", CultureInfo.InvariantCulture)} {epoch}\n");
                }

                if (i % 50 == 49 || i == N - 1)
                {
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
                    text.Clear();
                }
            }
        }

        for (int m = 0; m < names.Length; m++)
        {
            await AssertScoredLikeTheReferenceAsync(names[m], uids[m], timestamps, values[m]);
        }
    }

    /// <summary>
    /// Waits until the metric is scored up to the last row, then checks <c>metric_data</c> and the exchange against the
    /// model built from the stored definition and the likelihood helper run directly on the same series.
    /// </summary>
    private async Task AssertScoredLikeTheReferenceAsync(string name, string uid, DateTime[] timestamps, double[] values)
    {
        int count = timestamps.Length;
        var runtime = _runtime!;
        var settings = new EngineLikelihoodSettings(Engine.AnomalyLikelihood.MinSampleSize, Engine.AnomalyLikelihood.RefreshRate, Engine.AnomalyLikelihood.SampleSize);
        var metric = await WaitForAsync(
            () => runtime.Repository.GetMetricAsync(uid),
            r => LikelihoodEnvelope.Read(r.ModelParams).Rowid >= count,
            $"metric {name} scored up to row {count}");
        Assert.Equal(MetricStatus.Active, metric.Status);

        // The reference: the model built from the same definition, stepped directly; the helper fed one row at a time.
        var definition = ModelFactory.DefinitionFromModelParams(metric.ModelParams);
        Assert.NotNull(definition);
        var model = ModelFactory.Build(definition!);
        var raw = new double[count];
        for (int i = 0; i < count; i++)
        {
            raw[i] = model.Step(timestamps[i], values[i]);
        }

        var expected = Reference(settings, timestamps, values, raw);
        Assert.Contains(expected, s => s != 0 && s != 0.5);

        var rows = await runtime.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid });
        Assert.Equal(count, rows.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(i + 1, rows[i].Rowid);
            Assert.Equal(values[i], rows[i].MetricValue);
            Assert.True(BitConverter.DoubleToInt64Bits(raw[i]) == BitConverter.DoubleToInt64Bits(rows[i].RawAnomalyScore!.Value), $"{name} row {i + 1}: raw {rows[i].RawAnomalyScore:R}, expected {raw[i]:R}");
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(rows[i].AnomalyScore!.Value), $"{name} row {i + 1}: anomaly {rows[i].AnomalyScore:R}, expected {expected[i]:R}");
        }

        // On the exchange: every row, first copies in rowid order, with the same scores.
        var published = await WaitForAsync(() => Task.FromResult(Published(uid)), p => DistinctRows(p) >= count, $"{count} published rows of {name}");
        long next = 1;
        foreach (var (rowid, rawScore, anomaly) in published)
        {
            int i = (int)rowid - 1;
            Assert.Equal(BitConverter.DoubleToInt64Bits(raw[i]), BitConverter.DoubleToInt64Bits(rawScore));
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected[i]), BitConverter.DoubleToInt64Bits(anomaly));
            Assert.True(rowid <= next, $"{name}: row {rowid} published before row {next}");
            if (rowid == next)
            {
                next++;
            }
        }

        Assert.Contains(CommandResults(uid), c => c.Method == "defineModel" && c.Status == 0);
    }

    private static double[] Reference(EngineLikelihoodSettings settings, DateTime[] timestamps, double[] values, double[] raw) =>
        EngineLikelihoodSeries.Score(settings, timestamps, values, raw);

    private List<(long Rowid, double Raw, double Anomaly)> Published(string uid)
    {
        var rows = new List<(long, double, double)>();
        foreach (var message in _received)
        {
            if (message.Headers.ContainsKey(ResultsMessages.DataTypeHeader))
            {
                continue;
            }

            using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
            if (json.RootElement.GetProperty("metric").GetProperty("uid").GetString() == uid)
            {
                foreach (var r in json.RootElement.GetProperty("results").EnumerateArray())
                {
                    rows.Add((r.GetProperty("rowid").GetInt64(), r.GetProperty("rawAnomaly").GetDouble(), r.GetProperty("anomaly").GetDouble()));
                }
            }
        }

        return rows;
    }

    private List<(string? Method, int Status)> CommandResults(string uid)
    {
        var list = new List<(string?, int)>();
        foreach (var message in _received)
        {
            if (message.Headers.TryGetValue(ResultsMessages.DataTypeHeader, out var type) && type == ResultsMessages.ModelCommandResultDataType)
            {
                using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
                if (json.RootElement.GetProperty("modelId").GetString() == uid)
                {
                    list.Add((json.RootElement.GetProperty("method").GetString(), json.RootElement.GetProperty("status").GetInt32()));
                }
            }
        }

        return list;
    }

    private static int DistinctRows(List<(long Rowid, double Raw, double Anomaly)> rows)
    {
        var set = new HashSet<long>();
        foreach (var r in rows)
        {
            set.Add(r.Rowid);
        }

        return set.Count;
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
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
            await Task.Delay(100);
        }
    }
}

/// <summary>The end-to-end test on the embedded default: SQLite in a temp directory and the in-process bus.</summary>
public sealed class EmbeddedEndToEndTests : EndToEndContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "htmengine-e2e-" + Guid.NewGuid().ToString("N"));

    protected override EngineOptions BaseOptions()
    {
        var shipped = ConfigLoader.Load(Path.Combine(TestServers.RepositoryRoot, "conf"));
        return shipped with { Repository = shipped.Repository with { SqlitePath = Path.Combine(_directory, "engine.db") } };
    }

    protected override Task CleanUpBackendAsync(EngineOptions engine)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        return Task.CompletedTask;
    }

    [Fact]
    public Task Graphite_to_scores() => Graphite_lines_come_out_as_the_reference_scores_in_the_database_and_on_the_exchange();

    [Fact]
    public Task Delete_during_the_stream() => A_metric_deleted_during_the_stream_is_gone_and_the_other_metric_is_untouched();
}

/// <summary>The end-to-end test on MariaDB (a fresh database) and RabbitMQ from <c>tests/conf</c>.</summary>
public sealed class ServersEndToEndTests : EndToEndContract
{
    private readonly StorageOptions _database = TestServers.FreshMySqlDatabase("e2e");

    protected override EngineOptions BaseOptions()
    {
        var test = TestServers.Options;
        return test with { Repository = test.Repository with { Database = _database.Database } };
    }

    protected override Task CleanUpBackendAsync(EngineOptions engine) => Storage.MySqlRepositoryFixture.DropDatabaseAsync(_database);

    public override async Task InitializeAsync()
    {
        if (TestServers.SkipReason(TestServer.All) is not null)
        {
            return; // skipped: do not touch the servers
        }

        await base.InitializeAsync();
    }

    [ServerFact(TestServer.All)]
    public Task Graphite_to_scores() => Graphite_lines_come_out_as_the_reference_scores_in_the_database_and_on_the_exchange();

    [ServerFact(TestServer.All)]
    public Task Delete_during_the_stream() => A_metric_deleted_during_the_stream_is_gone_and_the_other_metric_is_untouched();
}
