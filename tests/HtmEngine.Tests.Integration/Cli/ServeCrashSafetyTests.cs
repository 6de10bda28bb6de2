using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Models;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Storage;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Integration.Cli;

/// <summary>
/// <c>htmengine serve</c> as a separate process on the embedded backend (SQLite + in-process bus), streaming Graphite
/// lines for three monitored metrics: killed with SIGKILL in the middle of the stream, or stopped with SIGTERM, then
/// restarted. Every sample must be stored once, every row scored, and the scores must equal, bit for bit, the model and
/// the §8.3 likelihood run directly on the series (what <c>htmengine detect --likelihood engine</c> computes).
/// </summary>
/// <remarks>
/// Graphite has no acknowledgements, so the client's contract is defined here: after a restart the client reads each
/// metric's newest stored timestamp and resends from a few samples before it; the storer rejects the overlap as
/// duplicates (spec §3.3). Lines the killed process had accepted but not committed are lost with its in-process queue
/// and are covered by that resend. The metrics are monitored through the <see cref="DatasourceAdapter"/> on the
/// database before <c>serve</c> starts (there is no HTTP API yet, #8): the metrics are CREATE_PENDING with their model
/// definition in <c>model_params</c>. On the embedded backend the defineModel command goes to this process's own bus
/// and is dropped, so the runner builds each model from <c>model_params</c> when the first row arrives (the metric stays
/// CREATE_PENDING); with RabbitMQ the command reaches the engine and the metric becomes ACTIVE.
/// </remarks>
public abstract class ServeCrashSafetyContract : IAsyncLifetime
{
    private const int Rows = 500;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(240);
    private static readonly DateTime s_start = new(2024, 3, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "htmengine-crash-" + Guid.NewGuid().ToString("N"));
    private readonly string _conf;
    private readonly string _checkpoints;
    private readonly int _port;
    private EngineOptions _engine = null!;
    private readonly string[] _names = ["crash.cpu", "crash.latency", "crash.queue"];

    /// <summary>Copies <paramref name="sourceConf"/> to a private directory with this test's port and checkpoint root.</summary>
    protected ServeCrashSafetyContract(string sourceConf)
    {
        _conf = Path.Combine(_root, "conf");
        _checkpoints = Path.Combine(_root, "checkpoints");
        Directory.CreateDirectory(_conf);
        foreach (var file in Directory.GetFiles(sourceConf, "*.conf"))
        {
            File.Copy(file, Path.Combine(_conf, Path.GetFileName(file)));
        }

        int[] ports = LoopbackPorts.Free(2);
        _port = ports[0];
        int webPort = ports[1];

        Rewrite("application.conf", "plaintext_port =", "plaintext_port = " + _port.ToString(CultureInfo.InvariantCulture));
        Rewrite("application.conf", "listen =", "listen = 127.0.0.1:" + webPort.ToString(CultureInfo.InvariantCulture));
        Rewrite("model-checkpoint.conf", "root =", "root = " + _checkpoints);
    }

    /// <summary>The private data directory of this test.</summary>
    protected string Root => _root;

    /// <summary>The loaded private configuration (after <see cref="Customize"/>).</summary>
    protected EngineOptions Engine => _engine;

    public Task InitializeAsync()
    {
        Customize();
        _engine = ConfigLoader.Load(_conf);
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        return Task.CompletedTask;
    }

    /// <summary>Rewrites the private configuration for the backend (database, queue names).</summary>
    protected abstract void Customize();

    /// <summary>The bus the adapter publishes defineModel commands on.</summary>
    protected abstract Task<IMessageBus> AdapterBusAsync();

    /// <summary>Replaces the line starting with <paramref name="linePrefix"/> in a file of the private configuration.</summary>
    protected void Rewrite(string file, string linePrefix, string newLine)
    {
        string path = Path.Combine(_conf, file);
        var lines = File.ReadAllLines(path);
        int index = Array.FindIndex(lines, l => l.StartsWith(linePrefix, StringComparison.Ordinal));
        Assert.True(index >= 0, $"no line starting with '{linePrefix}' in {path}");
        lines[index] = newLine;
        File.WriteAllLines(path, lines);
    }

    protected async Task Kill_9_mid_stream_then_restart_stores_every_sample_once_and_scores_as_an_uninterrupted_run()
    {
        string[] uids = await MonitorAsync();
        var values = Series();
        using (var first = ServeProcess.Start(_conf))
        {
            await first.WaitForLineAsync(l => l.StartsWith("htmengine: running", StringComparison.Ordinal), s_wait);
            await SendAsync(values, 0, Rows * 3 / 5);

            // Kill while the engine is still working through the stream: some rows stored, not all of them.
            await WaitForAsync(async () => (await StoredRowsAsync(uids[0])) >= Rows / 5, "rows of the first metric stored before the kill");
            first.Kill9();
        }

        long storedAtKill = await StoredRowsAsync(uids[0]);
        Assert.True(storedAtKill < Rows, $"the kill came after the whole stream was stored ({storedAtKill} rows)");

        using (var second = ServeProcess.Start(_conf))
        {
            await second.WaitForLineAsync(l => l.StartsWith("htmengine: running", StringComparison.Ordinal), s_wait);

            // The client's resend: from 5 samples before each metric's newest stored timestamp (overlap = duplicates).
            await using (var repository = await OpenRepositoryAsync())
            {
                for (int m = 0; m < _names.Length; m++)
                {
                    MetricRow metric = await repository.GetMetricAsync(uids[m]);
                    int from = metric.LastTimestamp is { } last ? Math.Max(0, (int)((last - s_start).TotalMinutes / 5) - 5) : 0;
                    await SendAsync(values, from, Rows, m);
                }
            }

            await AssertScoredAsReferenceAsync(uids, values);
            await second.StopAsync(s_wait);
        }
    }

    protected async Task SIGTERM_checkpoints_hot_models_and_the_restart_replays_nothing()
    {
        string[] uids = await MonitorAsync();
        var values = Series();
        const int firstPart = 300;
        using (var first = ServeProcess.Start(_conf))
        {
            await first.WaitForLineAsync(l => l.StartsWith("htmengine: running", StringComparison.Ordinal), s_wait);
            await SendAsync(values, 0, firstPart);
            await WaitScoredAsync(uids, firstPart);
            await first.StopAsync(s_wait);
            Assert.Contains(first.Lines, l => l.Contains($"Model runners stopped: {_names.Length} hot model(s) checkpointed", StringComparison.Ordinal));
        }

        foreach (string uid in uids)
        {
            Assert.True(File.Exists(Path.Combine(_checkpoints, uid + ".model")), $"no checkpoint for {uid} after SIGTERM");
        }

        using (var second = ServeProcess.Start(_conf))
        {
            await second.WaitForLineAsync(l => l.StartsWith("htmengine: running", StringComparison.Ordinal), s_wait);

            // Every shard's start-up recovery reports its catch-up; after a graceful stop there is none.
            int shards = EngineComposition.Shards(_engine);
            var recovery = await second.WaitForLinesAsync(l => l.Contains("start-up recovery looked at", StringComparison.Ordinal), shards, s_wait);
            Assert.All(recovery, l => Assert.Contains("scored 0 stored row(s)", l, StringComparison.Ordinal));
            Assert.Equal(_names.Length, recovery.Sum(l => int.Parse(Regex.Match(l, @"looked at (\d+) metric").Groups[1].Value, CultureInfo.InvariantCulture)));

            await SendAsync(values, firstPart, Rows);
            await AssertScoredAsReferenceAsync(uids, values);
            await second.StopAsync(s_wait);
        }
    }

    /// <summary>
    /// A server restart while <c>serve</c> streams (issue #7): once the first rows are stored, <paramref name="restart"/>
    /// takes a server down and brings it back while the client keeps sending at a steady pace on one connection. The
    /// engine is not restarted and the client resends nothing, so every line must come through the outage: stored once,
    /// scored, and scored as an uninterrupted run. Returns the engine's output lines.
    /// </summary>
    /// <param name="restart">Takes the server down and brings it back.</param>
    /// <param name="restartWhenStored">Rows of the first metric stored before the restart begins (1: while the engine
    /// is still working through the burst).</param>
    /// <param name="evidence">A line the engine must have printed, proving the outage reached it.</param>
    /// <param name="output">Where the engine's output goes when the test ends, passed or failed.</param>
    protected async Task Server_restart_mid_stream_loses_nothing_and_scores_as_an_uninterrupted_run(Func<Task> restart, int restartWhenStored, string evidence, ITestOutputHelper output)
    {
        string[] uids = await MonitorAsync();
        var values = Series();
        using var serve = ServeProcess.Start(_conf);
        try
        {
            await RestartMidStreamAsync(serve, uids, values, restart, restartWhenStored, evidence);
        }
        catch
        {
            // The test's directory goes with it: keep the engine's output where a failure seen once can still be read.
            string kept = KeepLog(serve.Lines);
            output.WriteLine("engine output kept in " + kept);
            throw;
        }
        finally
        {
            output.WriteLine("engine output:");
            foreach (string line in serve.Lines)
            {
                output.WriteLine(line);
            }
        }
    }

    private async Task RestartMidStreamAsync(ServeProcess serve, string[] uids, double[][] values, Func<Task> restart, int restartWhenStored, string evidence)
    {
        await serve.WaitForLineAsync(l => l.StartsWith("htmengine: running", StringComparison.Ordinal), s_wait);

        // A burst of 400 rows of each metric (a backlog the services are still working through when the restart comes),
        // then 5 rows of each every 200 ms (~4 s, so lines also arrive while the server is down).
        int sent = 0;
        var sender = Task.Run(() => SendPacedAsync(values, burst: 400, rowsPerWrite: 5, TimeSpan.FromMilliseconds(200), rows => Volatile.Write(ref sent, rows)));
        await WaitForAsync(async () => (await StoredRowsAsync(uids[0])) >= restartWhenStored, "rows of the first metric stored before the restart");
        int sentAtRestart = Volatile.Read(ref sent);
        await restart();
        int sentAfterRestart = Volatile.Read(ref sent);
        Assert.True(sentAtRestart < Rows, $"the stream had ended before the restart ({sentAtRestart} rows sent)");
        await sender;
        Assert.True(sentAfterRestart > sentAtRestart, "the client sent nothing while the server was restarted");
        Assert.False(serve.HasExited, "serve exited during the server restart: " + string.Join(" | ", serve.Lines));

        await AssertScoredAsReferenceAsync(uids, values);
        Assert.True(serve.Lines.Any(l => l.Contains(evidence, StringComparison.Ordinal)), $"the engine never printed '{evidence}': " + string.Join(" | ", serve.Lines));
        await serve.StopAsync(s_wait);
    }

    /// <summary>Writes the engine's output to a file under the temporary directory that outlives the test; returns its path.</summary>
    private static string KeepLog(IEnumerable<string> lines)
    {
        string directory = Path.Combine(Path.GetTempPath(), "htmengine-failed-serve-logs");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6] + ".log");
        File.WriteAllLines(path, lines);
        return path;
    }

    private async Task SendPacedAsync(double[][] values, int burst, int rowsPerWrite, TimeSpan pause, Action<int> progress)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _port);
        var stream = client.GetStream();
        var text = new StringBuilder();
        for (int i = 0; i < Rows;)
        {
            int end = Math.Min(Rows, i == 0 ? burst : i + rowsPerWrite);
            text.Clear();
            for (int r = i; r < end; r++)
            {
                long epoch = (long)(s_start.AddMinutes(5 * r) - DateTime.UnixEpoch).TotalSeconds;
                for (int m = 0; m < _names.Length; m++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{_names[m]} {values[m][r].ToString("R", CultureInfo.InvariantCulture)} {epoch}\n");
                }
            }

            await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
            progress(end);
            i = end;
            await Task.Delay(pause);
        }
    }

    private async Task<string[]> MonitorAsync()
    {
        // The adapter on the engine's own database; its defineModel commands go to a private bus and are dropped.
        int shards = EngineComposition.Shards(_engine);
        await using var repository = await OpenRepositoryAsync();
        await using var bus = await AdapterBusAsync();
        for (int shard = 0; shard < shards; shard++)
        {
            await bus.DeclareQueueAsync(ModelShards.InputQueue(_engine.ModelSwapper.ModelInputQueuePrefix, shard));
        }

        var adapter = new DatasourceAdapter(repository, bus, new DatasourceAdapterOptions(_engine.ModelSwapper.ModelInputQueuePrefix, shards));
        var uids = new string[_names.Length];
        for (int m = 0; m < _names.Length; m++)
        {
            uids[m] = await adapter.MonitorMetricAsync("{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"" + _names[m] + "\"},\"modelParams\":{\"min\":0,\"max\":100}}");
        }

        return uids;
    }

    private Task<IMetricRepository> OpenRepositoryAsync()
    {
        var r = _engine.Repository;
        return MetricRepository.OpenAsync(new StorageOptions(r.Host, r.Port, r.Database, r.User, r.Password, r.SqlitePath));
    }

    private async Task<long> StoredRowsAsync(string uid)
    {
        await using var repository = await OpenRepositoryAsync();
        return (await repository.GetMetricAsync(uid)).LastRowid;
    }

    private double[][] Series()
    {
        var random = new Random(23);
        var values = new double[_names.Length][];
        for (int m = 0; m < _names.Length; m++)
        {
            values[m] = new double[Rows];
            for (int i = 0; i < Rows; i++)
            {
                double wave = 50 + (30 * Math.Sin((i + (40 * m)) * 2 * Math.PI / 48));
                values[m][i] = Math.Round(i == 420 && m == 1 ? 99 : wave + (3 * random.NextDouble()), 2);
            }
        }

        return values;
    }

    private async Task SendAsync(double[][] values, int from, int to, int? onlyMetric = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _port);
        var stream = client.GetStream();
        var text = new StringBuilder();
        for (int i = from; i < to; i++)
        {
            long epoch = (long)(s_start.AddMinutes(5 * i) - DateTime.UnixEpoch).TotalSeconds;
            for (int m = 0; m < _names.Length; m++)
            {
                if (onlyMetric is null || onlyMetric == m)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{_names[m]} {values[m][i].ToString("R", CultureInfo.InvariantCulture)} {epoch}\n");
                }
            }

            if (i % 50 == 49 || i == to - 1)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
                text.Clear();
            }
        }
    }

    private async Task WaitScoredAsync(string[] uids, int rows)
    {
        foreach (string uid in uids)
        {
            await WaitForAsync(
                async () =>
                {
                    await using var repository = await OpenRepositoryAsync();
                    return LikelihoodEnvelope.ReadRowid((await repository.GetMetricAsync(uid)).ModelParams) >= rows;
                },
                $"{uid} scored up to row {rows}");
        }
    }

    private async Task AssertScoredAsReferenceAsync(string[] uids, double[][] values)
    {
        await WaitScoredAsync(uids, Rows);
        var a = _engine.AnomalyLikelihood;
        var settings = new EngineLikelihoodSettings(a.MinSampleSize, a.RefreshRate, a.SampleSize);
        await using var repository = await OpenRepositoryAsync();
        for (int m = 0; m < _names.Length; m++)
        {
            MetricRow metric = await repository.GetMetricAsync(uids[m]);
            var model = ModelFactory.Build(ModelFactory.DefinitionFromModelParams(metric.ModelParams)!);
            var rows = await repository.GetMetricDataAsync(new MetricDataQuery { Uid = uids[m] });
            Assert.Equal(Rows, rows.Count);
            var helper = new EngineAnomalyLikelihood(settings);
            var history = new List<ScoredRow>();
            EngineLikelihoodState? state = null;
            var row = new ScoredRow[1];
            var score = new double[1];
            bool fitted = false;
            var mismatches = new List<string>();
            for (int i = 0; i < Rows; i++)
            {
                DateTime timestamp = s_start.AddMinutes(5 * i);
                double raw = model.Step(timestamp, values[m][i]);
                row[0] = new ScoredRow(i + 1, timestamp, values[m][i], raw);
                state = helper.UpdateModelAnomalyScores(state, row, score, new ListHistory(history));
                history.Add(row[0]);
                fitted |= score[0] is not (0 or 0.5);

                // Stored once, in order, with the reference scores.
                Assert.Equal(i + 1, rows[i].Rowid);
                Assert.Equal(timestamp, DateTime.SpecifyKind(rows[i].Timestamp, DateTimeKind.Utc));
                Assert.Equal(values[m][i], rows[i].MetricValue);
                if (!(rows[i].RawAnomalyScore is { } r && BitConverter.DoubleToInt64Bits(r) == BitConverter.DoubleToInt64Bits(raw)))
                {
                    mismatches.Add($"{_names[m]} row {i + 1}: raw {rows[i].RawAnomalyScore:R}, reference {raw:R}");
                }

                if (!(rows[i].AnomalyScore is { } s && BitConverter.DoubleToInt64Bits(s) == BitConverter.DoubleToInt64Bits(score[0])))
                {
                    mismatches.Add($"{_names[m]} row {i + 1}: anomaly {rows[i].AnomalyScore:R}, reference {score[0]:R}");
                }
            }

            // Every differing row of the metric, not only the first: where a divergence starts and ends tells its cause.
            Assert.True(mismatches.Count == 0, $"{mismatches.Count} score(s) differ from the reference: " + string.Join("; ", mismatches.Take(40)));
            Assert.True(fitted, $"{_names[m]}: the likelihood never left its warm-up values; the comparison would prove little");
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> probe, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!await probe())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(100);
        }
    }


    private sealed class ListHistory(List<ScoredRow> rows) : IScoredRowHistory
    {
        public long CountScoredRows() => rows.Count;

        public void ReadNewestScoredRows(int limit, List<ScoredRow> destination)
        {
            for (int i = Math.Max(0, rows.Count - limit); i < rows.Count; i++)
            {
                destination.Add(rows[i]);
            }
        }
    }

    /// <summary><c>dotnet htmengine.dll serve --config DIR</c> with its output lines collected.</summary>
    private sealed class ServeProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();

        private ServeProcess(Process process) => _process = process;

        public IReadOnlyCollection<string> Lines => _lines;

        public bool HasExited => _process.HasExited;

        public static ServeProcess Start(string conf)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "htmengine.dll"), "serve", "--config", conf })
            {
                start.ArgumentList.Add(arg);
            }

            var serve = new ServeProcess(new Process { StartInfo = start });
            serve._process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    serve._lines.Enqueue(line);
                }
            };
            serve._process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    serve._lines.Enqueue("stderr: " + line);
                }
            };
            Assert.True(serve._process.Start());
            serve._process.BeginOutputReadLine();
            serve._process.BeginErrorReadLine();
            return serve;
        }

        public async Task WaitForLineAsync(Func<string, bool> match, TimeSpan timeout) => await WaitForLinesAsync(match, 1, timeout);

        public async Task<List<string>> WaitForLinesAsync(Func<string, bool> match, int count, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var found = _lines.Where(match).ToList();
                if (found.Count >= count)
                {
                    return found;
                }

                Assert.False(_process.HasExited, "serve exited: " + string.Join(" | ", _lines));
                Assert.True(DateTime.UtcNow < deadline, "serve did not print the expected line: " + string.Join(" | ", _lines));
                await Task.Delay(50);
            }
        }

        /// <summary>SIGKILL: no stop, no checkpoint, no flush.</summary>
        public void Kill9()
        {
            _process.Kill();
            _process.WaitForExit();
            Assert.True(_process.HasExited);
        }

        /// <summary>SIGTERM and wait for a clean exit.</summary>
        public async Task StopAsync(TimeSpan timeout)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            var exited = _process.WaitForExitAsync();
            Assert.True(await Task.WhenAny(exited, Task.Delay(timeout)) == exited, "serve did not exit after SIGTERM: " + string.Join(" | ", _lines));
            await exited;
            _process.WaitForExit(); // drains the redirected output
            Assert.True(_process.ExitCode == 0, "serve exited with " + _process.ExitCode + ": " + string.Join(" | ", _lines));
            Assert.Contains("htmengine: stopped", _lines);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }
    }
}

/// <summary>The crash and shutdown tests on the embedded default: SQLite in the test's directory, in-process bus.</summary>
public sealed class EmbeddedServeCrashSafetyTests() : ServeCrashSafetyContract(Path.Combine(TestServers.RepositoryRoot, "conf"))
{
    [Fact]
    public Task Kill_9_mid_stream() => Kill_9_mid_stream_then_restart_stores_every_sample_once_and_scores_as_an_uninterrupted_run();

    [Fact]
    public Task SIGTERM_then_restart() => SIGTERM_checkpoints_hot_models_and_the_restart_replays_nothing();

    protected override void Customize() => Rewrite("application.conf", "sqlite_path =", "sqlite_path = " + Path.Combine(Root, "var", "engine.db"));

    protected override Task<IMessageBus> AdapterBusAsync() => Task.FromResult<IMessageBus>(new InProcessMessageBus());
}

/// <summary>
/// <c>serve</c> on MariaDB (a fresh database) and RabbitMQ of <c>tests/conf</c>, with queue names of its own; the
/// database and the queues are removed after the test.
/// </summary>
public abstract class ServersServeContract() : ServeCrashSafetyContract(TestServers.ConfigDirectory)
{
    private readonly StorageOptions _database = TestServers.FreshMySqlDatabase("crash");
    private readonly string _prefix = "htmengine_crash_" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>The test's database.</summary>
    protected StorageOptions Database => _database;

    protected override void Customize()
    {
        Rewrite("application.conf", "db =", "db = " + _database.Database);
        Rewrite("application.conf", "queue_name =", "queue_name = " + _prefix + ".metric.custom.data");
        Rewrite("application.conf", "results_exchange_name =", "results_exchange_name = " + _prefix + ".model.results");
        Rewrite("model-swapper.conf", "results_queue =", "results_queue = " + _prefix + ".mswapper.results");
        Rewrite("model-swapper.conf", "model_input_queue_prefix =", "model_input_queue_prefix = " + _prefix + ".mswapper.model.input.");
    }

    protected override async Task<IMessageBus> AdapterBusAsync() => await RabbitMqMessageBus.ConnectAsync(TestServers.RabbitMqOptions());

    public override async Task DisposeAsync()
    {
        if (TestServers.SkipReason(TestServer.All) is null)
        {
            await using (var bus = await RabbitMqMessageBus.ConnectAsync(TestServers.RabbitMqOptions()))
            {
                var o = Engine;
                await bus.DeleteQueueAsync(o.MetricListener.QueueName);
                await bus.DeleteQueueAsync(o.ModelSwapper.ResultsQueue);
                for (int shard = 0; shard < EngineComposition.Shards(o); shard++)
                {
                    await bus.DeleteQueueAsync(ModelShards.InputQueue(o.ModelSwapper.ModelInputQueuePrefix, shard));
                }

                await bus.DeleteExchangeAsync(o.MetricStreamer.ResultsExchangeName);
            }

            await Storage.MySqlRepositoryFixture.DropDatabaseAsync(_database);
        }

        await base.DisposeAsync();
    }
}

/// <summary>The crash and shutdown tests on the servers. Only <c>serve</c> is killed; the shared servers are never restarted here.</summary>
public sealed class ServersServeCrashSafetyTests : ServersServeContract
{
    [ServerFact(TestServer.All)]
    public Task Kill_9_mid_stream() => Kill_9_mid_stream_then_restart_stores_every_sample_once_and_scores_as_an_uninterrupted_run();

    [ServerFact(TestServer.All)]
    public Task SIGTERM_then_restart() => SIGTERM_checkpoints_hot_models_and_the_restart_replays_nothing();
}

/// <summary>
/// MariaDB crashes (SIGKILL, restarted by mysqld_safe after crash recovery) while <c>serve</c> streams: the storer,
/// the runners and the anomaly service must wait and retry, and lose nothing. Restarts the shared server: run under
/// <c>flock /work/servers.lock</c>, in the collection of the other MariaDB tests.
/// </summary>
[Collection(Storage.MariaDbCollection.Name)]
public sealed class MariaDbRestartServeTests(ITestOutputHelper output) : ServersServeContract
{
    [ServerFact(TestServer.All)]
    public async Task MariaDB_restart_mid_stream()
    {
        TimeSpan down = TimeSpan.Zero;
        try
        {
            await Server_restart_mid_stream_loses_nothing_and_scores_as_an_uninterrupted_run(async () =>
                down = await Storage.MariaDbRestarter.KillAndAwaitRestartAsync(Database, TimeSpan.FromSeconds(60)),
                restartWhenStored: 100,
                evidence: "transient error",
                output);
            output.WriteLine($"MariaDB down for {down.TotalSeconds:F1} s");
        }
        finally
        {
            await Storage.MariaDbRestarter.EnsureRunningAsync();
        }

        Assert.True(down > TimeSpan.Zero);
    }

    [ServerFact(TestServer.All)]
    public async Task MariaDB_down_longer_than_the_retry_budget_mid_stream()
    {
        // 40 s: longer than a repository call retries (StorageOptions.RetryBudget, 30 s), so the services' own
        // handling of a failed call is what keeps the stream whole (the storer, the runners and the anomaly service
        // wait and handle the message in hand again in place; AnomalyServiceContract and ModelRunnerFailureTests show
        // that outages beyond MaxFailedAttempts no longer dead-letter anything).
        TimeSpan down = TimeSpan.Zero;
        try
        {
            await Server_restart_mid_stream_loses_nothing_and_scores_as_an_uninterrupted_run(async () =>
                down = await Storage.MariaDbRestarter.ShutdownAndStartAsync(Database, TimeSpan.FromSeconds(40)),
                restartWhenStored: 100,
                evidence: "retrying the message in place",
                output);
            output.WriteLine($"MariaDB down for {down.TotalSeconds:F1} s");
        }
        finally
        {
            await Storage.MariaDbRestarter.EnsureRunningAsync();
        }

        Assert.True(down >= TimeSpan.FromSeconds(40));
    }
}

/// <summary>
/// RabbitMQ stops (every connection closed by the broker) and starts again while <c>serve</c> streams: the listener
/// must hold its batches, and every consumer and publisher must come back on the recovered connection. Restarts the
/// shared server: run under <c>flock /work/servers.lock</c>, in the collection of the other RabbitMQ restart test.
/// </summary>
[Collection(Bus.RabbitMqRestartCollection.Name)]
public sealed class RabbitMqRestartServeTests(ITestOutputHelper output) : ServersServeContract
{
    [ServerFact(TestServer.All)]
    public async Task RabbitMQ_restart_mid_stream()
    {
        try
        {
            TimeSpan down = TimeSpan.Zero;
            await Server_restart_mid_stream_loses_nothing_and_scores_as_an_uninterrupted_run(async () =>
                down = await Bus.RabbitMqRestarter.StopAndStartAsync(TimeSpan.FromSeconds(3)),
                restartWhenStored: 1,
                evidence: "RabbitMQ connection recovered",
                output);
            output.WriteLine($"RabbitMQ down for {down.TotalSeconds:F1} s");
        }
        finally
        {
            await Bus.RabbitMqRestarter.StartLikeServicesScriptAsync();
        }
    }
}
