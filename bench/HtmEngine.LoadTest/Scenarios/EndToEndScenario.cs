using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Runtime.Models;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Storage;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// The whole engine in this process, composed as <c>htmengine serve</c> composes it (listener, storer, model runners,
/// anomaly service): <c>--metrics</c> monitored metrics each stream <c>--rows</c> samples of history over Graphite TCP;
/// the clock stops when every row's result has reached the results exchange. Then every stored score is compared
/// with the model and the likelihood run directly on the same series (what <c>htmengine detect --likelihood engine</c>
/// computes). Headline: <c>samples_per_s=&lt;n&gt; mismatches=&lt;m&gt;</c>.
/// </summary>
public sealed class EndToEndScenario : IScenario
{
    /// <inheritdoc />
    public string Name => "e2e";

    /// <inheritdoc />
    public string Description => "Graphite TCP to scores stored and published, whole engine: samples/s and mismatches";

    /// <inheritdoc />
    public string Usage => "e2e [--backend embedded|servers] [--metrics 20] [--rows 400] [--shards 0] [--connections 4] [--rate 0] [--memory-budget-mb <conf>] [--series wave|nab] [--nab-data DIR] [--skip-check]";

    /// <inheritdoc />
    public async Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        string backend = args.GetString("backend", "embedded");
        int metrics = args.GetInt("metrics", 20, 1, 100_000);
        int rows = args.GetInt("rows", 400, 1, 1_000_000);
        int shards = args.GetInt("shards", 0, 0, 4096);
        int connections = args.GetInt("connections", 4, 1, 256);
        int sendRate = args.GetInt("rate", 0, 0, 10_000_000);
        int budgetMb = args.GetInt("memory-budget-mb", 0, 0, 1 << 20);
        bool skipCheck = args.GetFlag("skip-check");
        string seriesName = args.GetString("series", "wave");
        string nabData = args.GetString("nab-data", string.Empty);
        args.ThrowIfUnknown();
        if (backend is not ("embedded" or "servers"))
        {
            throw new ArgumentException($"--backend must be embedded or servers, got '{backend}'");
        }

        var series = E2eSeries.Create(seriesName, nabData.Length > 0 ? nabData : null);
        string id = Guid.NewGuid().ToString("N")[..10];
        string scratch = Path.Combine(Path.GetTempPath(), "htmengine-loadtest-e2e-" + id);
        var engine = Configure(backend, id, scratch, shards);
        if (budgetMb > 0)
        {
            engine = engine with { ModelSwapper = engine.ModelSwapper with { MemoryBudgetMb = budgetMb } };
        }

        output.WriteLine($"e2e: {metrics} metrics x {rows} rows over {connections} connection(s){(sendRate > 0 ? $" at {sendRate} samples/s" : string.Empty)}, backend {backend}, {EngineComposition.Shards(engine)} shard(s), series {series.Name}");
        var runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(engine), cancellationToken: cancellationToken).ConfigureAwait(false);
        var started = new List<IEngineService>();
        string subscriberQueue = engine.MetricStreamer.ResultsExchangeName + ".loadtest";
        IBusSubscription? subscriber = null;
        try
        {
            // Count the distinct rows published per metric; the run ends when all of them are out.
            var seen = new Dictionary<string, HashSet<long>>(StringComparer.Ordinal);
            long published = 0;
            long defined = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var allDefined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            long total = (long)metrics * rows;
            await runtime.Bus.DeclareQueueAsync(subscriberQueue, cancellationToken).ConfigureAwait(false);
            await runtime.Bus.BindQueueAsync(subscriberQueue, engine.MetricStreamer.ResultsExchangeName, cancellationToken).ConfigureAwait(false);
            subscriber = await runtime.Bus.ConsumeAsync(
                subscriberQueue,
                (m, ct) =>
                {
                    if (m.Headers.ContainsKey(ResultsMessages.DataTypeHeader))
                    {
                        if (Interlocked.Increment(ref defined) == metrics)
                        {
                            allDefined.TrySetResult();
                        }
                    }
                    else
                    {
                        using var json = JsonDocument.Parse(ResultsMessages.Inflate(m.Body));
                        string uid = json.RootElement.GetProperty("metric").GetProperty("uid").GetString()!;
                        lock (seen)
                        {
                            if (!seen.TryGetValue(uid, out var set))
                            {
                                seen[uid] = set = [];
                            }

                            foreach (var r in json.RootElement.GetProperty("results").EnumerateArray())
                            {
                                if (set.Add(r.GetProperty("rowid").GetInt64()) && ++published == total)
                                {
                                    done.TrySetResult();
                                }
                            }
                        }
                    }

                    return ValueTask.FromResult(ConsumeOutcome.Ack);
                },
                new ConsumerOptions(Prefetch: 256),
                cancellationToken).ConfigureAwait(false);

            foreach (var entry in ServiceCatalog.Defaults)
            {
                var service = entry.Create!(engine, runtime);
                await service.StartAsync(cancellationToken).ConfigureAwait(false);
                started.Add(service);
            }

            var adapter = EngineComposition.Adapter(engine, runtime);
            var names = new string[metrics];
            var uids = new string[metrics];
            for (int m = 0; m < metrics; m++)
            {
                names[m] = $"loadtest.e2e.{id}.m{m}";
                (double min, double max) = series.Range(m);
                string range = string.Create(CultureInfo.InvariantCulture, $"\"min\":{min:R},\"max\":{max:R}");
                uids[m] = await adapter.MonitorMetricAsync($"{{\"datasource\":\"custom\",\"metricSpec\":{{\"metric\":\"{names[m]}\"}},\"modelParams\":{{{range}}}}}", cancellationToken).ConfigureAwait(false);
            }

            // The models are built (and the metrics ACTIVE) before the clock starts: building a model is a one-off
            // cost of monitoring, reported on its own, not a cost of streaming.
            var defining = Stopwatch.StartNew();
            while (!allDefined.Task.IsCompleted)
            {
                await Task.WhenAny(allDefined.Task, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken)).ConfigureAwait(false);
                output.WriteLine($"e2e: {Interlocked.Read(ref defined)}/{metrics} models defined after {defining.Elapsed.TotalSeconds:F0} s");
            }

            output.WriteLine($"e2e: {metrics} metrics monitored and their models built in {defining.Elapsed.TotalSeconds:F1} s (not in the figure below)");
            WriteBreakdown(started, output, reset: true);
            var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            var listener = started.OfType<ListenerService>().Single();
            var clock = Stopwatch.StartNew();
            var senders = new Task[connections];
            for (int c = 0; c < connections; c++)
            {
                int connection = c;
                senders[c] = Task.Run(() => SendAsync(listener.LocalEndPoint!.Port, series, names, connection, connections, rows, start, sendRate / (double)connections, cancellationToken), cancellationToken);
            }

            await Task.WhenAll(senders).ConfigureAwait(false);
            output.WriteLine($"e2e: sent {total} lines in {clock.Elapsed.TotalSeconds:F1} s; waiting for the results");
            while (!done.Task.IsCompleted)
            {
                await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken)).ConfigureAwait(false);
                long count;
                lock (seen)
                {
                    count = published;
                }

                output.WriteLine($"e2e: {count}/{total} rows published after {clock.Elapsed.TotalSeconds:F0} s");
                WriteBreakdown(started, output);
            }

            double seconds = clock.Elapsed.TotalSeconds;
            double rate = total / seconds;
            output.WriteLine($"e2e: {total} samples from TCP to scores stored and published in {seconds:F1} s");
            WriteBreakdown(started, output);
            long mismatches = skipCheck ? 0 : await CountMismatchesAsync(engine, runtime.Repository, series, uids, rows, start, output, cancellationToken).ConfigureAwait(false);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"samples_per_s={rate:F0} mismatches={mismatches}"));
            return mismatches == 0 ? 0 : 1;
        }
        finally
        {
            await TearDownAsync(started, subscriber, subscriberQueue, runtime, engine, backend, scratch).ConfigureAwait(false);
        }
    }

    /// <summary>Prints where each service's time went (wall-clock time per stage, summed over calls) and its message counts.</summary>
    internal static void WriteBreakdown(IReadOnlyList<IEngineService> services, TextWriter output, bool reset = false)
    {
        output.WriteLine($"  process: gc pauses {GC.GetTotalPauseDuration().TotalSeconds:F2} s, collections gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, heap {GC.GetTotalMemory(false) >> 20} MiB, cpu {Environment.CpuUsage.TotalTime.TotalSeconds:F0} s");
        foreach (var service in services)
        {
            switch (service)
            {
                case Runtime.Storer.MetricStorerService storer:
                    var sc = storer.Counters;
                    output.WriteLine($"  storer: messages={sc.Messages} stored={sc.SamplesStored} forwarded={sc.RowsForwarded} {storer.Timings}");
                    if (reset)
                    {
                        storer.Timings.Reset();
                    }

                    break;
                case ModelRunnerService models:
                    var mc = models.Counters.Snapshot();
                    output.WriteLine($"  models: scored={mc.RowsScored} caught_up={mc.RowsCaughtUp} result_messages={mc.ResultMessages} built={mc.ModelsBuilt} loaded={mc.ModelsLoaded} evicted={mc.Evictions} checkpoints={mc.CheckpointsWritten} {models.Counters.Timings}");
                    if (reset)
                    {
                        models.Counters.Timings.Reset();
                    }

                    break;
                case Runtime.Anomaly.AnomalyService anomaly:
                    var ac = anomaly.Counters;
                    output.WriteLine($"  anomaly: scored={ac.Scored} published={ac.Published} {anomaly.Timings}");
                    if (reset)
                    {
                        anomaly.Timings.Reset();
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// Streams the history of every <paramref name="connections"/>-th metric, row by row (each row's samples of all
    /// those metrics, then the next row), as fast as the socket takes it, or at <paramref name="samplesPerSecond"/>
    /// when that is positive: a steady stream instead of one burst, so that the storer keeps up with small batches
    /// and any backlog forms further down, where it would in a long-running engine.
    /// </summary>
    private static async Task SendAsync(int port, E2eSeries series, string[] names, int connection, int connections, int rows, DateTime start, double samplesPerSecond, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
        var stream = client.GetStream();
        var text = new StringBuilder(1 << 16);
        // Paced runs write small pieces (about 20 ms of samples) so the listener sees a stream, not bursts.
        int piece = samplesPerSecond > 0 ? Math.Max(1, (int)(samplesPerSecond / 50)) : int.MaxValue;
        int inPiece = 0;
        long sent = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < rows; i++)
        {
            long epoch = (long)(start.AddMinutes(5 * i) - DateTime.UnixEpoch).TotalSeconds;
            for (int m = connection; m < names.Length; m += connections)
            {
                text.Append(names[m]).Append(' ').Append(series.Value(m, i).ToString("R", CultureInfo.InvariantCulture)).Append(' ').Append(epoch).Append('\n');
                sent++;
                if (++inPiece >= piece)
                {
                    await WriteAsync(stream, text, cancellationToken).ConfigureAwait(false);
                    inPiece = 0;
                    double due = sent / samplesPerSecond;
                    double ahead = due - clock.Elapsed.TotalSeconds;
                    if (ahead > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(ahead), cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            if (text.Length > 60_000 || i == rows - 1)
            {
                await WriteAsync(stream, text, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task WriteAsync(NetworkStream stream, StringBuilder text, CancellationToken cancellationToken)
    {
        if (text.Length > 0)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken).ConfigureAwait(false);
            text.Clear();
        }
    }

    /// <summary>
    /// Stops the services in reverse order (the model runners without their final checkpoints: the run's data is thrown
    /// away), then deletes the run's queues, exchange, database and scratch directory. Shared with the cadence scenario.
    /// </summary>
    internal static async Task TearDownAsync(List<IEngineService> started, IBusSubscription? subscriber, string subscriberQueue, EngineRuntime runtime, EngineOptions engine, string backend, string scratch)
    {
        for (int i = started.Count - 1; i >= 0; i--)
        {
            // The run's data is thrown away: the model runners are disposed without the graceful stop's
            // checkpoints of every hot model (minutes for 1,000 models of ~12 MB on this machine).
            if (started[i] is not ModelRunnerService)
            {
                await started[i].StopAsync(CancellationToken.None).ConfigureAwait(false);
            }

            if (started[i] is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (subscriber is not null)
        {
            await subscriber.DisposeAsync().ConfigureAwait(false);
        }

        var o = runtime.Options;
        await runtime.Bus.DeleteQueueAsync(subscriberQueue, CancellationToken.None).ConfigureAwait(false);
        await runtime.Bus.DeleteQueueAsync(o.MetricDataQueue, CancellationToken.None).ConfigureAwait(false);
        await runtime.Bus.DeleteQueueAsync(o.ResultsQueue, CancellationToken.None).ConfigureAwait(false);
        for (int shard = 0; shard < o.Shards; shard++)
        {
            await runtime.Bus.DeleteQueueAsync(ModelShards.InputQueue(o.ModelInputQueuePrefix, shard), CancellationToken.None).ConfigureAwait(false);
        }

        await runtime.Bus.DeleteExchangeAsync(o.ResultsExchange, CancellationToken.None).ConfigureAwait(false);
        await runtime.DisposeAsync().ConfigureAwait(false);
        await DropDatabaseAsync(engine, backend).ConfigureAwait(false);
        if (Directory.Exists(scratch))
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static async Task<long> CountMismatchesAsync(EngineOptions engine, IMetricRepository repository, E2eSeries series, string[] uids, int rows, DateTime start, TextWriter output, CancellationToken cancellationToken)
    {
        var settings = EngineComposition.Likelihood(engine);
        long mismatches = 0;
        var clock = Stopwatch.StartNew();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        await Parallel.ForAsync(0, uids.Length, parallel, async (m, ct) =>
        {
            var metric = await repository.GetMetricAsync(uids[m], ct).ConfigureAwait(false);
            var model = ModelFactory.Build(ModelFactory.DefinitionFromModelParams(metric.ModelParams)!);
            var likelihood = new EngineLikelihoodSeries(settings);
            long local = 0;
            var stored = await repository.GetMetricDataAsync(new MetricDataQuery { Uid = uids[m] }, ct).ConfigureAwait(false);
            for (int i = 0; i < rows; i++)
            {
                var ts = start.AddMinutes(5 * i);
                double value = series.Value(m, i);
                double raw = model.Step(ts, value);
                double anomaly = likelihood.Next(ts, value, raw);
                if (i >= stored.Count
                    || stored[i].RawAnomalyScore is not { } r || BitConverter.DoubleToInt64Bits(r) != BitConverter.DoubleToInt64Bits(raw)
                    || stored[i].AnomalyScore is not { } a || BitConverter.DoubleToInt64Bits(a) != BitConverter.DoubleToInt64Bits(anomaly))
                {
                    local++;
                }
            }

            Interlocked.Add(ref mismatches, local);
        }).ConfigureAwait(false);

        output.WriteLine($"e2e: checked {uids.Length * (long)rows} scores against the model and likelihood run directly in {clock.Elapsed.TotalSeconds:F1} s");
        return mismatches;
    }

    internal static EngineOptions Configure(string backend, string id, string scratch, int shards)
    {
        string root = RepositoryRoot();
        var b = ConfigLoader.Load(Path.Combine(root, backend == "embedded" ? "conf" : Path.Combine("tests", "conf")));
        string p = "htmengine_loadtest_" + id;
        return b with
        {
            // A database of its own per run (dropped at the end): start-up recovery never meets another run's metrics.
            Repository = backend == "embedded" ? b.Repository with { SqlitePath = Path.Combine(scratch, "engine.db") } : b.Repository with { Database = b.Repository.Database + "_loadtest_" + id },
            MetricListener = b.MetricListener with { PlaintextPort = 0, QueueName = p + ".metric.custom.data" },
            MetricStreamer = b.MetricStreamer with { ResultsExchangeName = p + ".model.results" },
            ModelSwapper = b.ModelSwapper with { ResultsQueue = p + ".mswapper.results", ModelInputQueuePrefix = p + ".mswapper.model.input.", Shards = shards },
            CheckpointRoot = Path.Combine(scratch, "checkpoints"),
            Web = b.Web with { Listen = new ListenEndpoint("127.0.0.1", 0) },
        };
    }

    /// <summary>Drops the run's own MariaDB database (servers backend; see <see cref="Configure"/>).</summary>
    internal static async Task DropDatabaseAsync(EngineOptions engine, string backend)
    {
        var r = engine.Repository;
        if (backend != "servers" || !r.Database.Contains("_loadtest_", StringComparison.Ordinal))
        {
            return;
        }

        var builder = new MySqlConnector.MySqlConnectionStringBuilder { Server = r.Host, Port = (uint)r.Port, UserID = r.User, Password = r.Password, SslMode = MySqlConnector.MySqlSslMode.None };
        var connection = new MySqlConnector.MySqlConnection(builder.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(CancellationToken.None).ConfigureAwait(false);
            using var cmd = new MySqlConnector.MySqlCommand("DROP DATABASE IF EXISTS `" + r.Database + "`", connection);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The directory holding HtmEngine.Fast.sln, found above the program's directory.</summary>
    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (HtmEngine.Fast.sln) not found above " + AppContext.BaseDirectory);
    }
}
