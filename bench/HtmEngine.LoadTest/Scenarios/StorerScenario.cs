using System.Diagnostics;
using System.Globalization;
using System.Text;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Storer;
using HtmEngine.Storage;
using MySqlConnector;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// The metric storer alone: the data queue is filled with listener-format messages (<see cref="SampleBatchCodec"/>,
/// <c>--batch</c> samples each, metrics interleaved round-robin so every message touches up to <c>--metrics</c>
/// metrics), then a <see cref="MetricStorerService"/> stores them and forwards the rows of its ACTIVE metrics
/// (<c>--active</c> of them) to the shard queues, which a consumer drains. Headline: samples stored per second from
/// the storer's start until every sample is committed and forwarded.
/// </summary>
public sealed class StorerScenario : IScenario
{
    /// <inheritdoc />
    public string Name => "storer";

    /// <inheritdoc />
    public string Description => "metric storer alone (queue → metric_data → shard queues): samples/s";

    /// <inheritdoc />
    public string Usage => "storer [--backend embedded|servers] [--metrics 1000] [--samples 200000] [--batch 1000] [--active 1000] [--shards 4] [--host 127.0.0.1] [--user htmengine_test] [--password htmengine_test_pw]";

    /// <inheritdoc />
    public async Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        var backend = args.GetString("backend", "embedded");
        int metrics = args.GetInt("metrics", 1000, 1, 1_000_000);
        int total = args.GetInt("samples", 200_000, 1, 100_000_000);
        int batch = args.GetInt("batch", 1000, 1, 100_000);
        int active = args.GetInt("active", metrics, 0, metrics);
        int shards = args.GetInt("shards", 4, 1, 1024);
        var host = args.GetString("host", "127.0.0.1");
        var user = args.GetString("user", "htmengine_test");
        var password = args.GetString("password", "htmengine_test_pw");
        args.ThrowIfUnknown();
        if (backend is not ("embedded" or "servers"))
        {
            throw new ArgumentException("--backend must be embedded or servers");
        }

        var servers = backend == "servers";
        var id = Guid.NewGuid().ToString("N")[..8];
        var sqliteDirectory = Path.Combine(Path.GetTempPath(), "htmengine-storerload-" + id);
        var storage = servers
            ? new StorageOptions(host, 3306, "htmengine_test_storerload_" + id, user, password, string.Empty)
            : new StorageOptions(string.Empty, 0, string.Empty, string.Empty, string.Empty, Path.Combine(sqliteDirectory, "load.db"));
        IMessageBus bus = servers
            ? await RabbitMqMessageBus.ConnectAsync(new RabbitMqBusOptions(host, 5672, "/", "guest", "guest"), cancellationToken: cancellationToken).ConfigureAwait(false)
            : new InProcessMessageBus(queueCapacity: 1_000_000);
        var repository = await MetricRepository.OpenAsync(storage, cancellationToken: cancellationToken).ConfigureAwait(false);
        var dataQueue = "htmengine.loadtest.storer." + id + ".data";
        var prefix = "htmengine.loadtest.storer." + id + ".model.input.";
        output.WriteLine($"storer: backend={backend} ({storage.Describe()}) metrics={metrics} active={active} samples={total} batch={batch} shards={shards}");
        var subscriptions = new List<IBusSubscription>();
        try
        {
            // Metrics exist beforehand (creation is a one-off cost per metric); the first `active` are ACTIVE.
            var names = new string[metrics];
            for (var i = 0; i < metrics; i++)
            {
                names[i] = "load.storer.m" + i.ToString(CultureInfo.InvariantCulture);
                var (metric, _) = await repository.GetOrCreateCustomMetricAsync(names[i], cancellationToken).ConfigureAwait(false);
                if (i < active)
                {
                    await repository.SetMetricStatusAsync(metric.Uid, MetricStatus.Active, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }

            await bus.DeclareQueueAsync(dataQueue, cancellationToken).ConfigureAwait(false);
            long forwarded = 0;
            for (var s = 0; s < shards; s++)
            {
                var queue = ModelShards.InputQueue(prefix, s);
                await bus.DeclareQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                subscriptions.Add(await bus.ConsumeAsync(queue, (m, _) =>
                {
                    Interlocked.Add(ref forwarded, ModelMessageCodec.DecodeRequests(m.Body.Span).Count);
                    return ValueTask.FromResult(ConsumeOutcome.Ack);
                }, new ConsumerOptions(Prefetch: 64), cancellationToken).ConfigureAwait(false));
            }

            var fill = Stopwatch.StartNew();
            var table = new MetricNameTable();
            var ids = new int[metrics];
            for (var i = 0; i < metrics; i++)
            {
                ids[i] = table.GetOrAdd(Encoding.UTF8.GetBytes(names[i]));
            }

            var pending = new List<OutgoingMessage>();
            for (var start = 0; start < total; start += batch)
            {
                var samples = new MetricSampleBatch(table, batch);
                for (var k = start; k < Math.Min(total, start + batch); k++)
                {
                    samples.TryAdd(new MetricSample(ids[k % metrics], k % 97, 1_400_000_000 + ((long)(k / metrics) * 300)));
                }

                pending.Add(new OutgoingMessage(SampleBatchCodec.Encode(samples), ContentType: SampleBatchCodec.ContentType));
                if (pending.Count == 64)
                {
                    await bus.PublishToQueueAsync(dataQueue, pending, cancellationToken).ConfigureAwait(false);
                    pending = [];
                }
            }

            if (pending.Count > 0)
            {
                await bus.PublishToQueueAsync(dataQueue, pending, cancellationToken).ConfigureAwait(false);
            }

            output.WriteLine($"queue filled in {fill.Elapsed.TotalSeconds:F1} s");
            long expectedForward = 0;
            for (var k = 0; k < total; k++)
            {
                expectedForward += k % metrics < active ? 1 : 0;
            }

            var storer = new MetricStorerService(repository, bus, new MetricStorerOptions(dataQueue, prefix, shards));
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await storer.StartAsync(cancellationToken).ConfigureAwait(false);
            var lastReport = 0L;
            while (storer.Counters.SamplesStored < total || Interlocked.Read(ref forwarded) < expectedForward)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                if (clock.ElapsedMilliseconds / 1000 > lastReport)
                {
                    lastReport = clock.ElapsedMilliseconds / 1000;
                    output.WriteLine($"t={lastReport,3}s stored={storer.Counters.SamplesStored,10:N0} forwarded={Interlocked.Read(ref forwarded),10:N0} rejected={storer.Counters.RejectedTotal}");
                }
            }

            var elapsed = clock.Elapsed.TotalSeconds;
            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            await storer.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await storer.DisposeAsync().ConfigureAwait(false);
            output.WriteLine($"samples={total} messages={storer.Counters.MessagesAcked} forwarded={Interlocked.Read(ref forwarded)} wall_s={elapsed:F2} client_cpu_s={cpu:F2}");
            output.WriteLine($"samples_per_s={(long)(total / elapsed)}");
            return 0;
        }
        finally
        {
            foreach (var s in subscriptions)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }

            await bus.DeleteQueueAsync(dataQueue, CancellationToken.None).ConfigureAwait(false);
            for (var s = 0; s < shards; s++)
            {
                await bus.DeleteQueueAsync(ModelShards.InputQueue(prefix, s), CancellationToken.None).ConfigureAwait(false);
            }

            await bus.DisposeAsync().ConfigureAwait(false);
            await repository.DisposeAsync().ConfigureAwait(false);
            if (servers)
            {
                var builder = new MySqlConnectionStringBuilder { Server = storage.Host, Port = (uint)storage.Port, UserID = storage.User, Password = storage.Password, SslMode = MySqlSslMode.None };
                var connection = new MySqlConnection(builder.ConnectionString);
                await using (connection.ConfigureAwait(false))
                {
                    await connection.OpenAsync(CancellationToken.None).ConfigureAwait(false);
                    using var cmd = new MySqlCommand("DROP DATABASE IF EXISTS `" + storage.Database + "`", connection);
                    await cmd.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            else if (Directory.Exists(sqliteDirectory))
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(sqliteDirectory, recursive: true);
            }
        }
    }
}
