using System.Diagnostics;
using System.Globalization;
using HtmEngine.Storage;
using MySqlConnector;

namespace HtmEngine.LoadTest;

/// <summary>
/// <c>storage</c>: sustained sample inserts through <see cref="IMetricRepository.StoreSamplesAsync"/>
/// (the storer's path: row lock, scrub, rowids, insert, commit) into a fresh database. Writers own
/// disjoint metrics and store one batch per call; the last line is <c>rows_per_s=N</c> over the
/// measured window (after a one-second warm-up).
/// </summary>
public static class StorageScenario
{
    private const string Usage =
        "usage: storage --backend mysql|sqlite [--seconds 10] [--batch N] [--writers N] [--metrics N] [--method bulk|insert]\n" +
        "               [--host 127.0.0.1] [--port 3306] [--user htmengine_test] [--password ...] [--database htmengine_test_load] [--sqlite-path FILE]\n" +
        "MySQL defaults are the test server of tests/conf; the database is dropped and re-created first and dropped at the end.";

    /// <summary>Runs the scenario; <paramref name="args"/> are the options after the scenario name.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Dictionary<string, string> o;
        try
        {
            o = ParseOptions(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var backend = Get(o, "backend", "sqlite");
        if (backend is not ("mysql" or "sqlite"))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var mysql = backend == "mysql";
        var seconds = int.Parse(Get(o, "seconds", "10"), CultureInfo.InvariantCulture);
        var batch = int.Parse(Get(o, "batch", mysql ? "20000" : "100000"), CultureInfo.InvariantCulture);
        var writers = int.Parse(Get(o, "writers", mysql ? "8" : "1"), CultureInfo.InvariantCulture);
        var metrics = int.Parse(Get(o, "metrics", "64"), CultureInfo.InvariantCulture);
        var method = Get(o, "method", "bulk") == "insert" ? MySqlInsertMethod.MultiRowInsert : MySqlInsertMethod.BulkLoad;
        metrics = Math.Max(metrics, writers);

        string? sqliteDirectory = null;
        StorageOptions options;
        if (mysql)
        {
            options = new StorageOptions(
                Get(o, "host", "127.0.0.1"),
                int.Parse(Get(o, "port", "3306"), CultureInfo.InvariantCulture),
                Get(o, "database", "htmengine_test_load"),
                Get(o, "user", "htmengine_test"),
                Get(o, "password", "htmengine_test_pw"),
                string.Empty)
            { InsertMethod = method, MaxPoolSize = writers + 4 };
            await DropDatabaseAsync(options).ConfigureAwait(false);
        }
        else
        {
            sqliteDirectory = Path.Combine(Path.GetTempPath(), "htmengine-load-" + Guid.NewGuid().ToString("N"));
            options = new StorageOptions(string.Empty, 0, string.Empty, string.Empty, string.Empty, o.TryGetValue("sqlite-path", out var p) ? p : Path.Combine(sqliteDirectory, "load.db"));
        }

        Console.WriteLine($"storage: backend={backend} target={options.Describe()} batch={batch} writers={writers} metrics={metrics}" + (mysql ? $" method={(method == MySqlInsertMethod.BulkLoad ? "bulk" : "insert")}" : string.Empty) + $" seconds={seconds}");
        var repository = await MetricRepository.OpenAsync(options).ConfigureAwait(false);
        try
        {
            var uids = new string[metrics];
            for (var i = 0; i < metrics; i++)
            {
                uids[i] = (await repository.GetOrCreateCustomMetricAsync("load.metric." + i.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false)).Metric.Uid;
            }

            var stored = new long[writers];
            using var stop = new CancellationTokenSource();
            var tasks = new Task[writers];
            for (var w = 0; w < writers; w++)
            {
                tasks[w] = WriterAsync(repository, uids, w, writers, batch, stored, stop.Token);
            }

            // Warm-up second, then the measured window with a progress line per second.
            await Task.Delay(1000).ConfigureAwait(false);
            var startRows = Sum(stored);
            var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var serverCpu0 = ServerCpuSeconds(mysql);
            var clock = Stopwatch.StartNew();
            var previous = startRows;
            for (var s = 0; s < seconds && !AnyFaulted(tasks); s++)
            {
                await Task.Delay(1000).ConfigureAwait(false);
                var now = Sum(stored);
                Console.WriteLine($"t={s + 1,3}s rows={now - startRows,12:N0} last_second={now - previous,10:N0}");
                previous = now;
            }

            var total = Sum(stored) - startRows;
            var elapsed = clock.Elapsed.TotalSeconds;
            var clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu0).TotalSeconds;
            var serverCpu = ServerCpuSeconds(mysql) - serverCpu0;
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            // The machine is shared: CPU seconds spent per row say more than wall time when it is busy.
            Console.WriteLine($"rows={total} wall_s={elapsed:F2} client_cpu_s={clientCpu:F2}" + (mysql ? $" server_cpu_s={serverCpu:F2}" : string.Empty) + $" rows_per_cpu_s={(long)(total / Math.Max(0.001, clientCpu + serverCpu))}");
            Console.WriteLine($"rows_per_s={(long)(total / elapsed)}");
            return 0;
        }
        finally
        {
            await repository.DisposeAsync().ConfigureAwait(false);
            if (mysql)
            {
                await DropDatabaseAsync(options).ConfigureAwait(false);
            }
            else if (sqliteDirectory is not null && Directory.Exists(sqliteDirectory))
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(sqliteDirectory, recursive: true);
            }
        }
    }

    private static async Task WriterAsync(IMetricRepository repository, string[] uids, int writer, int writers, int batch, long[] stored, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var samples = new Sample[batch];
        var start = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var clocks = new long[uids.Length];
        var m = writer;
        while (!cancellationToken.IsCancellationRequested)
        {
            var t = clocks[m];
            for (var i = 0; i < batch; i++)
            {
                samples[i] = new Sample(start.AddSeconds((t + i) * 5), ((t + i) % 1000) * 0.5);
            }

            clocks[m] = t + batch;
            var result = await repository.StoreSamplesAsync(uids[m], samples, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Add(ref stored[writer], result.StoredCount);
            m += writers;
            if (m >= uids.Length)
            {
                m = writer;
            }
        }
    }

    /// <summary>CPU seconds mariadbd has used so far (0 when not MySQL or not readable).</summary>
    private static double ServerCpuSeconds(bool mysql)
    {
        try
        {
            if (!mysql || !File.Exists("/run/mysqld/mysqld.pid"))
            {
                return 0;
            }

            var pid = File.ReadAllText("/run/mysqld/mysqld.pid").Trim();
            var stat = File.ReadAllText("/proc/" + pid + "/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second).
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long Sum(long[] values)
    {
        long sum = 0;
        for (var i = 0; i < values.Length; i++)
        {
            sum += Interlocked.Read(ref values[i]);
        }

        return sum;
    }

    private static bool AnyFaulted(Task[] tasks)
    {
        foreach (var t in tasks)
        {
            if (t.IsFaulted)
            {
                t.GetAwaiter().GetResult();
            }
        }

        return false;
    }

    private static async Task DropDatabaseAsync(StorageOptions options)
    {
        var builder = new MySqlConnectionStringBuilder { Server = options.Host, Port = (uint)options.Port, UserID = options.User, Password = options.Password, SslMode = MySqlSslMode.None };
        var connection = new MySqlConnection(builder.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            using var cmd = new MySqlCommand("DROP DATABASE IF EXISTS `" + options.Database.Replace("`", "``", StringComparison.Ordinal) + "`", connection);
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    private static string Get(Dictionary<string, string> options, string name, string fallback)
        => options.TryGetValue(name, out var value) ? value : fallback;

    private static Dictionary<string, string> ParseOptions(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"storage: expected '--name value', got '{args[i]}'");
            }

            options[args[i][2..]] = args[++i];
        }

        return options;
    }
}
