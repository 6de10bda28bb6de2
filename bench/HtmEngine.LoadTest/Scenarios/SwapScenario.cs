using System.Diagnostics;
using System.Globalization;
using HtmEngine.Bus;
using HtmEngine.Core.Models;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Models;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// Model swapping (issue #7): (1) one model through a whole NAB file, then its checkpoint file size, save time (with
/// fsync) and load time, its retained memory measured with <c>GC.GetTotalMemory(true)</c> next to the runners'
/// estimate, and how many such models fit hot in 16 GiB; (2) rows/s through one shard of
/// <see cref="ModelRunnerService"/> on SQLite + the in-process bus with <c>--metrics</c> models all hot, then with a
/// budget below one model so that every request message of <c>--batch</c> rows evicts and reloads its model.
/// </summary>
public sealed class SwapScenario : IScenario
{
    private const string DefaultFile = "/work/shared/nab/data/realKnownCause/machine_temperature_system_failure.csv";

    /// <inheritdoc />
    public string Name => "swap";

    /// <inheritdoc />
    public string Description => "model checkpoint size/save/load, memory per model, rows/s of one shard hot vs swapping";

    /// <inheritdoc />
    public string Usage => $"swap [--file {DefaultFile}] [--params nab] [--metrics 4] [--rows 2000] [--batch 50]";

    /// <inheritdoc />
    public async Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        string file = args.GetString("file", DefaultFile);
        string parameterSet = args.GetString("params", ModelParameters.NabSetName);
        int metrics = args.GetInt("metrics", 4, 1, 1000);
        int rowsPerMetric = args.GetInt("rows", 2000, 10, 1_000_000);
        int batch = args.GetInt("batch", 50, 1, 100_000);
        args.ThrowIfUnknown();

        Sample[] samples = ReadNabFile(file);
        double min = double.MaxValue, max = double.MinValue;
        foreach (Sample s in samples)
        {
            min = Math.Min(min, s.Value);
            max = Math.Max(max, s.Value);
        }

        (min, max) = ModelParameters.PadObservedRange(min, max);
        var definition = new ModelDefinition(parameterSet, min, max);
        output.WriteLine($"swap: {Path.GetFileName(file)} ({samples.Length} rows), parameters {parameterSet} [{min:G6}, {max:G6}]");

        string root = Path.Combine(Path.GetTempPath(), "htmengine-swap-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            (long checkpointBytes, double saveMs, double loadMs, long estimate) = MeasureOneModel(definition, samples, root, output);
            const long SixteenGiB = 16L << 30;
            long fits = SixteenGiB / estimate;
            output.WriteLine($"hot models in 16 GiB by the estimate: {fits} after a full file, {SixteenGiB / ModelFactory.FreshModelBytes} fresh");

            int rows = Math.Min(rowsPerMetric, samples.Length);
            double hot = await MeasureShardAsync(definition, samples.AsMemory(0, rows), metrics, batch, long.MaxValue / 4, root, "all hot", output, cancellationToken).ConfigureAwait(false);
            double swapping = await MeasureShardAsync(definition, samples.AsMemory(0, rows), metrics, batch, 1, root, $"evict+reload every {batch} rows", output, cancellationToken).ConfigureAwait(false);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"hot_rows_per_s={hot:F0} swap_rows_per_s={swapping:F0} checkpoint_bytes={checkpointBytes} save_ms={saveMs:F1} load_ms={loadMs:F1} models_in_16gib={fits}"));
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static (long Bytes, double SaveMs, double LoadMs, long Estimate) MeasureOneModel(ModelDefinition definition, Sample[] samples, string root, TextWriter output)
    {
        // The spatial pooler's initial state is drawn once per parameter set and process and shared by every model
        // (Core README, item 20): build one model first so that it is not counted as this model's.
        GC.KeepAlive(ModelFactory.Build(definition));
        long before = GC.GetTotalMemory(forceFullCollection: true);
        HtmModel model = ModelFactory.Build(definition);
        long fresh = GC.GetTotalMemory(forceFullCollection: true) - before;
        var clock = Stopwatch.StartNew();
        foreach (Sample s in samples)
        {
            model.Step(s.Timestamp, s.Value);
        }

        double stepSeconds = clock.Elapsed.TotalSeconds;
        long retained = GC.GetTotalMemory(forceFullCollection: true) - before;
        long estimate = ModelFactory.EstimateBytes(model);
        output.WriteLine($"one model: {samples.Length / stepSeconds:F0} rows/s bare; retained {fresh / 1e6:F2} MB fresh, {retained / 1e6:F2} MB after the file; runner estimate {estimate / 1e6:F2} MB ({100.0 * estimate / retained:F0} % of measured)");

        var store = new ModelCheckpointStore(Path.Combine(root, "one"));
        long bytes = 0;
        double saveMs = double.MaxValue, loadMs = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            clock.Restart();
            bytes = store.Save("machine", samples.Length, definition, model);
            saveMs = Math.Min(saveMs, clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            if (!store.TryLoad("machine", out ModelCheckpoint? loaded, out string? problem))
            {
                throw new InvalidOperationException("checkpoint did not load: " + problem);
            }

            loadMs = Math.Min(loadMs, clock.Elapsed.TotalMilliseconds);
            GC.KeepAlive(loaded);
        }

        output.WriteLine($"checkpoint: {bytes} bytes, save {saveMs:F1} ms (serialise + write + fsync + rename), load {loadMs:F1} ms (read + verify + deserialise), best of 5");
        GC.KeepAlive(model);
        return (bytes, saveMs, loadMs, estimate);
    }

    private static async Task<double> MeasureShardAsync(ModelDefinition definition, ReadOnlyMemory<Sample> samples, int metrics, int batch,
        long budget, string root, string label, TextWriter output, CancellationToken cancellationToken)
    {
        string dir = Path.Combine(root, "shard-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        await using IMetricRepository repository = await MetricRepository.OpenAsync(
            new StorageOptions("", 0, "", "", "", Path.Combine(dir, "engine.db")), cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var bus = new InProcessMessageBus();
        var options = new ModelRunnerOptions("swap.input.", "swap.results", 1, budget, Path.Combine(dir, "checkpoints"));
        string[] uids = new string[metrics];
        for (int m = 0; m < metrics; m++)
        {
            MetricRow row = await repository.CreateMetricAsync(new NewMetric("swap-" + m)
            {
                Status = MetricStatus.Active,
                ModelParams = "{\"modelDefinition\":" + definition.ToJson() + "}",
            }, cancellationToken).ConfigureAwait(false);
            uids[m] = row.Uid;
        }

        await bus.DeclareQueueAsync(options.ResultsQueue, cancellationToken).ConfigureAwait(false);
        long expected = (long)metrics * samples.Length;
        long received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using IBusSubscription results = await bus.ConsumeAsync(options.ResultsQueue, (message, _) =>
        {
            foreach (ModelResult r in ModelMessageCodec.DecodeResults(message.Body.Span))
            {
                if (r.Kind == ModelResultKind.Inference && r.Status != 0)
                {
                    done.TrySetException(new InvalidOperationException($"row {r.Rowid} of {r.MetricUid} failed: {r.ErrorMessage}"));
                }
                else if (r.Kind == ModelResultKind.Inference && Interlocked.Increment(ref received) == expected)
                {
                    done.TrySetResult();
                }
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions(Prefetch: 64), cancellationToken).ConfigureAwait(false);

        await using var service = new ModelRunnerService(repository, bus, options, NullLoggerFactory.Instance);
        await service.StartAsync(cancellationToken).ConfigureAwait(false);
        await service.Recovery.ConfigureAwait(false);

        // Stored after the start, so start-up recovery does not score them: every row goes through a request.
        foreach (string uid in uids)
        {
            await repository.StoreSamplesAsync(uid, samples, cancellationToken).ConfigureAwait(false);
        }

        string queue = ModelShards.InputQueue(options.ModelInputQueuePrefix, 0);
        var clock = Stopwatch.StartNew();
        Sample[] array = samples.ToArray();
        for (int i = 0; i < array.Length; i += batch)
        {
            int n = Math.Min(batch, array.Length - i);
            for (int m = 0; m < metrics; m++)
            {
                var requests = new ModelRequest[n];
                for (int k = 0; k < n; k++)
                {
                    Sample s = array[i + k];
                    requests[k] = ModelRequest.ForRow(uids[m], i + k + 1, RoundToSecond(s.Timestamp), s.Value);
                }

                await bus.PublishToQueueAsync(queue, [new OutgoingMessage(ModelMessageCodec.EncodeRequests(requests))], cancellationToken).ConfigureAwait(false);
            }
        }

        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        ModelRunnerCountersSnapshot c = service.Counters.Snapshot();
        await service.StopAsync(cancellationToken).ConfigureAwait(false);
        double rate = expected / seconds;
        output.WriteLine($"one shard, {label}: {metrics} metrics × {samples.Length} rows in messages of {batch}: {rate:F0} rows/s ({c.Evictions} evictions, {c.ModelsLoaded} loads, {c.CheckpointsWritten} checkpoints)");
        return rate;
    }

    private static DateTime RoundToSecond(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    private static Sample[] ReadNabFile(string path)
    {
        var samples = new List<Sample>();
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            int comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0)
            {
                continue;
            }

            DateTime timestamp = DateTime.ParseExact(line[..comma], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            samples.Add(new Sample(timestamp, double.Parse(line.AsSpan(comma + 1), CultureInfo.InvariantCulture)));
        }

        return [.. samples];
    }
}
