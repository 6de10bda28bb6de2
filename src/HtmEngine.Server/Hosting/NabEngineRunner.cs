using System.Globalization;
using System.Text;
using HtmEngine.Bus;
using HtmEngine.Core.Models;
using HtmEngine.Ingest;
using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Storer;
using HtmEngine.Server.Configuration;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Server.Hosting;

/// <summary>
/// <c>htmengine nab --mode engine</c>: runs each NAB file through the whole engine instead of a bare model. Per file:
/// a private embedded engine (SQLite in a temp directory, the in-process bus, one model shard) composed from the
/// <see cref="ServiceCatalog"/> as <c>htmengine serve</c> composes it (anomaly service, model runners, storer); the
/// metric monitored through the <see cref="DatasourceAdapter"/> with the file's padded min/max (NAB's convention);
/// the rows published to the metric data queue as the listener publishes them (binary sample batches); the scores
/// read back from <c>metric_data</c> once the anomaly service has covered every row. The final score is the engine's
/// <c>anomaly_score</c> (htmengine-spec §8.3, what users receive), the raw score the model's. A row whose timestamp is
/// at or before the previous row's is rejected by the storer, as it would be over Graphite, and carries the previous
/// row's scores (the first row of a file is never rejected).
/// </summary>
public sealed class NabEngineRunner
{
    private const int SamplesPerMessage = 1_000;

    // The services serve runs that the pipeline needs, in serve's start order (the listener is replaced by publishing to its queue).
    private static readonly string[] s_services = ["anomaly", "models", "storer"];
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_stallLimit = TimeSpan.FromMinutes(5);
    private readonly EngineOptions _base;
    private readonly string _parameterSet;
    private readonly string _temporalMemory;
    private long _rejectedRows;
    private int _filesWithRejectedRows;

    /// <summary>Creates a runner.</summary>
    /// <param name="baseOptions">The configuration whose <c>[anomaly_likelihood]</c>, <c>[metric_streamer] chunk_size</c>,
    /// queue names and memory budget the engines use; storage, bus, shards and checkpoint root are replaced per file.</param>
    /// <param name="parameterSet">The model parameter set (<see cref="ModelParameters.SetNames"/>).</param>
    /// <param name="temporalMemory"><c>backtracking</c> or <c>tm</c>.</param>
    public NabEngineRunner(EngineOptions baseOptions, string parameterSet, string temporalMemory)
    {
        ArgumentNullException.ThrowIfNull(baseOptions);
        ArgumentException.ThrowIfNullOrEmpty(parameterSet);
        ArgumentException.ThrowIfNullOrEmpty(temporalMemory);
        _base = baseOptions;
        _parameterSet = parameterSet;
        _temporalMemory = temporalMemory;
    }

    /// <summary>File rows the storer rejected so far (timestamp at or before the previous row's): they carry the previous row's scores.</summary>
    public long RejectedRows => Interlocked.Read(ref _rejectedRows);

    /// <summary>Files with at least one rejected row so far.</summary>
    public int FilesWithRejectedRows => Volatile.Read(ref _filesWithRejectedRows);

    /// <summary>The <see cref="NabRunOptions.FileRunner"/> of this runner.</summary>
    /// <param name="file">The file.</param>
    /// <param name="recordsDone">Progress sink (records scored since the last call).</param>
    /// <param name="cancellationToken">Stops the file.</param>
    /// <returns>The engine's anomaly scores and the model's raw scores, per row.</returns>
    /// <exception cref="NabDataException">The engine did not store or score every row; the message names the file and why.</exception>
    public (double[] Scores, double[] RawScores) RunFile(NabLabeledFile file, Action<int> recordsDone, CancellationToken cancellationToken) =>
        RunFileAsync(file, recordsDone, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Runs one file through a fresh embedded engine; see <see cref="RunFile"/>.</summary>
    /// <param name="file">The file.</param>
    /// <param name="recordsDone">Progress sink (records scored since the last call).</param>
    /// <param name="cancellationToken">Stops the file.</param>
    /// <returns>The engine's anomaly scores and the model's raw scores, per row.</returns>
    public async Task<(double[] Scores, double[] RawScores)> RunFileAsync(NabLabeledFile file, Action<int> recordsDone, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(recordsDone);
        NabSeries series = file.Series ?? throw new InvalidOperationException($"The corpus was loaded without the series of {file.Name}.");
        string scratch = Path.Combine(Path.GetTempPath(), "htmengine-nab-engine-" + Guid.NewGuid().ToString("N"));
        EngineOptions engine = _base with
        {
            Repository = _base.Repository with { Host = string.Empty, SqlitePath = Path.Combine(scratch, "engine.db") },
            Bus = _base.Bus with { Host = string.Empty },
            ModelSwapper = _base.ModelSwapper with { Shards = 1 },
            CheckpointRoot = Path.Combine(scratch, "checkpoints"),
        };
        Directory.CreateDirectory(scratch);
        var started = new List<IEngineService>();
        EngineRuntime? runtime = null;
        try
        {
            runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(engine), NullLoggerFactory.Instance, cancellationToken).ConfigureAwait(false);
            foreach (string name in s_services)
            {
                IEngineService service = ServiceCatalog.Find(name)!.Create!(engine, runtime);
                started.Add(service);
                await service.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            return await ScoreAsync(file, series, engine, runtime, started.OfType<MetricStorerService>().Single(), recordsDone, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            for (int i = started.Count - 1; i >= 0; i--)
            {
                await started[i].StopAsync(CancellationToken.None).ConfigureAwait(false);
                if (started[i] is IAsyncDisposable disposable)
                {
                    await disposable.DisposeAsync().ConfigureAwait(false);
                }
            }

            if (runtime is not null)
            {
                await runtime.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (IOException)
            {
                // A temp directory left behind is harmless; the scores are already read.
            }
        }
    }

    private async Task<(double[] Scores, double[] RawScores)> ScoreAsync(
        NabLabeledFile file, NabSeries series, EngineOptions engine, EngineRuntime runtime, MetricStorerService storer, Action<int> recordsDone, CancellationToken cancellationToken)
    {
        int n = series.Length;
        (double min, double max) = NabCorpusRunner.PaddedRange(series);
        string metricName = MetricName(file.Name);
        var adapter = new DatasourceAdapter(
            runtime.Repository,
            runtime.Bus,
            new DatasourceAdapterOptions(engine.ModelSwapper.ModelInputQueuePrefix, EngineComposition.Shards(engine)) { ParameterSet = _parameterSet, TemporalMemory = _temporalMemory },
            runtime.LoggerFactory);
        CultureInfo c = CultureInfo.InvariantCulture;
        string uid = await adapter.MonitorMetricAsync(
            string.Create(c, $"{{\"datasource\":\"custom\",\"metricSpec\":{{\"metric\":\"{metricName}\"}},\"modelParams\":{{\"min\":{min:R},\"max\":{max:R}}}}}"),
            cancellationToken).ConfigureAwait(false);

        // The rows, as the listener would publish them: binary sample batches on the metric data queue.
        var names = new MetricNameTable();
        int nameId = names.GetOrAdd(Encoding.UTF8.GetBytes(metricName));
        var batch = new MetricSampleBatch(names, SamplesPerMessage);
        int messages = 0;

        // The storer rejects a sample at or before the metric's last timestamp (spec 3.3); 7 of the 40 development
        // files hold such rows (DST repeats, a clock step back). Which rows those are is known here, so each file row
        // can be paired with its stored row; a rejected row has no score of its own and carries the previous one.
        var storedIndex = new int[n];
        int expectedStored = 0;
        long lastEpoch = long.MinValue;
        for (int i = 0; i < n; i++)
        {
            long epoch = EpochSeconds(series.Timestamps[i]);
            if (epoch > lastEpoch)
            {
                lastEpoch = epoch;
                expectedStored++;
            }

            storedIndex[i] = expectedStored - 1;
        }

        for (int i = 0; i < n; i++)
        {
            if (series.Timestamps[i].Ticks % TimeSpan.TicksPerSecond != 0)
            {
                throw new NabDataException(file.Name, i + 2, "engine mode needs whole-second timestamps (Graphite's resolution)");
            }

            batch.TryAdd(new MetricSample(nameId, series.Values[i], EpochSeconds(series.Timestamps[i])));
            if (batch.IsFull || i == n - 1)
            {
                var message = new OutgoingMessage(SampleBatchCodec.Encode(batch), $"{metricName}.{messages}", ContentType: SampleBatchCodec.ContentType);
                await runtime.Bus.PublishToQueueAsync(engine.MetricListener.QueueName, [message], cancellationToken).ConfigureAwait(false);
                messages++;
                batch.Clear();
            }
        }

        // Every message stored: any row the storer rejected is an error in the file (the engine would drop it too).
        await WaitAsync(() => Task.FromResult(storer.Counters.MessagesAcked + storer.Counters.MessagesDeadLettered), done => done >= messages, file, "the storer to take every row", cancellationToken).ConfigureAwait(false);
        if (storer.Counters.SamplesStored != expectedStored)
        {
            var counters = storer.Counters;
            throw new NabDataException(file.Name, null, string.Create(c,
                $"the engine stored {counters.SamplesStored} of {n} rows, expected {expectedStored} (duplicate timestamps {counters.Rejected(StorerRejectReason.Duplicate)}, out of order {counters.Rejected(StorerRejectReason.OutOfOrder)}, invalid values {counters.Rejected(StorerRejectReason.InvalidValue)}, dead-lettered messages {counters.MessagesDeadLettered})"));
        }

        if (expectedStored < n)
        {
            Interlocked.Add(ref _rejectedRows, n - expectedStored);
            Interlocked.Increment(ref _filesWithRejectedRows);
        }

        // Every row scored by the model and fed into the likelihood.
        long reported = 0;
        await WaitAsync(
            async () =>
            {
                MetricRow metric = await runtime.Repository.GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
                if (metric.Status == MetricStatus.Error)
                {
                    throw new NabDataException(file.Name, null, $"the engine put the metric in ERROR: {metric.Message}");
                }

                long covered = LikelihoodEnvelope.ReadRowid(metric.ModelParams);
                if (covered > reported)
                {
                    recordsDone((int)(covered - reported));
                    reported = covered;
                }

                return covered;
            },
            covered => covered >= expectedStored,
            file,
            "the anomaly service to score every row",
            cancellationToken).ConfigureAwait(false);

        IReadOnlyList<MetricDataRow> rows = await runtime.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid }, cancellationToken).ConfigureAwait(false);
        if (rows.Count != expectedStored)
        {
            throw new NabDataException(file.Name, null, string.Create(c, $"the engine holds {rows.Count} rows, expected {expectedStored}"));
        }

        recordsDone(n - expectedStored);
        var scores = new double[n];
        var raw = new double[n];
        for (int i = 0; i < n; i++)
        {
            MetricDataRow row = rows[storedIndex[i]];
            if (row.RawAnomalyScore is not { } r || row.AnomalyScore is not { } a)
            {
                throw new NabDataException(file.Name, i + 2, string.Create(c, $"row {i + 1} (rowid {row.Rowid}) has no score in metric_data"));
            }

            raw[i] = r;
            scores[i] = a;
        }

        return (scores, raw);
    }

    /// <summary>A metric name for a NAB file (<c>nab.</c> + its path without <c>.csv</c>, other characters as <c>_</c>).</summary>
    /// <param name="fileName">The corpus-relative file name.</param>
    /// <returns>The name.</returns>
    public static string MetricName(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        string stem = fileName.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? fileName[..^4] : fileName;
        var name = new StringBuilder("nab.", stem.Length + 4);
        foreach (char ch in stem)
        {
            name.Append(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : (ch is '/' or '\\' ? '.' : '_'));
        }

        return name.ToString();
    }

    private static long EpochSeconds(DateTime timestamp) => (timestamp.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerSecond;

    private static async Task WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> done, NabLabeledFile file, string what, CancellationToken cancellationToken)
        where T : IEquatable<T>
    {
        // No fixed deadline (a busy machine may be slow): fail only when nothing moves for a long time.
        T last = await probe().ConfigureAwait(false);
        DateTime lastChange = DateTime.UtcNow;
        while (!done(last))
        {
            await Task.Delay(s_poll, cancellationToken).ConfigureAwait(false);
            T value = await probe().ConfigureAwait(false);
            if (!value.Equals(last))
            {
                last = value;
                lastChange = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - lastChange > s_stallLimit)
            {
                throw new NabDataException(file.Name, null, $"the engine made no progress for {s_stallLimit.TotalMinutes:F0} minutes waiting for {what} (at {value})");
            }
        }
    }
}
