using System.Collections.Concurrent;
using HtmEngine.Bus;
using HtmEngine.Core.Models;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Models;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Tests.Unit.Runtime.Models;

/// <summary>
/// A SQLite repository, an in-process bus, unique queue names, a checkpoint directory and a consumer that collects
/// every result the runners publish; services are started and stopped on it like processes on one machine.
/// </summary>
internal sealed class RunnerHarness : IAsyncDisposable
{
    public static readonly ModelDefinition Definition = new("nab", 0, 100);

    private readonly ConcurrentQueue<ModelResult> _results = new();
    private IBusSubscription? _resultsSubscription;

    private RunnerHarness(string directory, IMetricRepository repository, IMessageBus bus, int shards)
    {
        Directory = directory;
        Repository = repository;
        Bus = bus;
        string id = Guid.NewGuid().ToString("N")[..12];
        Options = new ModelRunnerOptions($"test.{id}.input.", $"test.{id}.results", shards, 1L << 34, Path.Combine(directory, "checkpoints"));
    }

    public string Directory { get; }

    public IMetricRepository Repository { get; }

    public IMessageBus Bus { get; }

    /// <summary>The bus the services use when it is not <see cref="Bus"/> (e.g. a wrapper that injects failures).</summary>
    public IMessageBus? ServiceBus { get; set; }

    /// <summary>The repository the services use when it is not <see cref="Repository"/> (e.g. a wrapper that injects an outage).</summary>
    public IMetricRepository? ServiceRepository { get; set; }

    public ModelRunnerOptions Options { get; set; }

    public IReadOnlyCollection<ModelResult> Results => _results;

    /// <summary>Everything the services logged at Information or above, as "Level: message".</summary>
    public RecordingLoggerFactory Logs { get; } = new();

    public static async Task<RunnerHarness> CreateAsync(int shards = 2)
    {
        string directory = Path.Combine(Path.GetTempPath(), "htmengine-models-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        IMetricRepository repository = await MetricRepository.OpenAsync(new StorageOptions("", 0, "", "", "", Path.Combine(directory, "engine.db")));
        var harness = new RunnerHarness(directory, repository, new InProcessMessageBus(), shards);
        await harness.Bus.DeclareQueueAsync(harness.Options.ResultsQueue);
        harness._resultsSubscription = await harness.Bus.ConsumeAsync(harness.Options.ResultsQueue, (message, _) =>
        {
            foreach (ModelResult result in ModelMessageCodec.DecodeResults(message.Body.Span))
            {
                harness._results.Enqueue(result);
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions(Prefetch: 16));
        return harness;
    }

    /// <summary>A deterministic series: a daily sine with noise and a level shift, 5-minute samples.</summary>
    public static Sample[] Series(int count, int seed = 7)
    {
        var random = new Random(seed);
        var samples = new Sample[count];
        var start = new DateTime(2024, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        for (int i = 0; i < count; i++)
        {
            double value = 50 + (20 * Math.Sin(2 * Math.PI * i / 48.0)) + (random.NextDouble() * 4) + (i > count * 2 / 3 ? 15 : 0);
            samples[i] = new Sample(start.AddMinutes(5 * i), Math.Round(value, 3));
        }

        return samples;
    }

    public async Task<ModelRunnerService> StartAsync(ModelRunnerOptions? options = null)
    {
        var service = new ModelRunnerService(ServiceRepository ?? Repository, ServiceBus ?? Bus, options ?? Options, Logs);
        await service.StartAsync(CancellationToken.None);
        await service.Recovery.WaitAsync(TimeSpan.FromSeconds(120));
        return service;
    }

    public async Task<string> CreateMetricAsync(string name, MetricStatus status = MetricStatus.Active, ModelDefinition? definition = null)
    {
        string modelParams = "{\"modelDefinition\":" + (definition ?? Definition).ToJson() + "}";
        MetricRow row = await Repository.CreateMetricAsync(new NewMetric(name + "-" + Guid.NewGuid().ToString("N")[..8])
        {
            Status = status,
            ModelParams = modelParams,
        });
        return row.Uid;
    }

    public async Task StoreAsync(string uid, ReadOnlyMemory<Sample> samples)
    {
        StoreSamplesResult result = await Repository.StoreSamplesAsync(uid, samples);
        Assert.Equal(samples.Length, result.StoredCount);
    }

    public string QueueOf(string uid) => ModelShards.InputQueue(Options.ModelInputQueuePrefix, ModelShards.ShardOf(uid, Options.ShardCount));

    public async Task PublishAsync(string uid, params ModelRequest[] requests)
    {
        byte[] body = ModelMessageCodec.EncodeRequests(requests);
        await Bus.PublishToQueueAsync(QueueOf(uid), [new OutgoingMessage(body, Guid.NewGuid().ToString("N"), null, ModelMessageCodec.RequestsContentType)]);
    }

    /// <summary>Publishes row requests for stored rows [from, to] in messages of <paramref name="perMessage"/> rows.</summary>
    public async Task PublishRowsAsync(string uid, long from, long to, int perMessage)
    {
        IReadOnlyList<MetricDataRow> rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid, StartRowid = from, StopRowid = to });
        for (int i = 0; i < rows.Count; i += perMessage)
        {
            int n = Math.Min(perMessage, rows.Count - i);
            var requests = new ModelRequest[n];
            for (int k = 0; k < n; k++)
            {
                MetricDataRow row = rows[i + k];
                requests[k] = ModelRequest.ForRow(uid, row.Rowid, row.Timestamp, row.MetricValue);
            }

            await PublishAsync(uid, requests);
        }
    }

    /// <summary>The raw scores a bare model gives for the metric's stored rows, in rowid order.</summary>
    public async Task<double[]> ReferenceScoresAsync(string uid, ModelDefinition? definition = null)
    {
        ModelDefinition d = definition ?? Definition;
        var model = new HtmModel(ModelParameters.Create(d.ParameterSet, d.Min, d.Max));
        IReadOnlyList<MetricDataRow> rows = await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid });
        var scores = new double[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(i + 1, rows[i].Rowid);
            scores[i] = model.Step(rows[i].Timestamp, rows[i].MetricValue);
        }

        return scores;
    }

    public List<ModelResult> InferencesOf(string uid)
    {
        var list = new List<ModelResult>();
        foreach (ModelResult r in _results)
        {
            if (r.MetricUid == uid && r.Kind == ModelResultKind.Inference)
            {
                list.Add(r);
            }
        }

        return list;
    }

    public List<ModelResult> CommandResultsOf(string uid)
    {
        var list = new List<ModelResult>();
        foreach (ModelResult r in _results)
        {
            if (r.MetricUid == uid && r.Kind == ModelResultKind.CommandResult)
            {
                list.Add(r);
            }
        }

        return list;
    }

    /// <summary>Waits until every rowid in [1, count] has a successful result.</summary>
    public async Task WaitForScoresAsync(string uid, int count)
    {
        await WaitUntilAsync(() =>
        {
            var seen = new HashSet<long>();
            foreach (ModelResult r in InferencesOf(uid))
            {
                if (r.Status == 0 && r.Rowid >= 1 && r.Rowid <= count)
                {
                    seen.Add(r.Rowid);
                }
            }

            return seen.Count == count;
        }, $"scores of rows 1..{count} of {uid}");
    }

    /// <summary>
    /// Every result for the metric is a success and bit-identical to the bare model's score for its rowid (copies
    /// from duplicates or replays included), and every row up to <paramref name="count"/> has one.
    /// </summary>
    public void AssertScoresEqual(string uid, double[] expected, int count)
    {
        var seen = new HashSet<long>();
        foreach (ModelResult r in InferencesOf(uid))
        {
            Assert.True(r.Status == 0, $"row {r.Rowid}: status {r.Status} {r.ErrorMessage}");
            Assert.InRange(r.Rowid, 1, expected.Length);
            double want = expected[r.Rowid - 1];
            Assert.True(BitConverter.DoubleToInt64Bits(want) == BitConverter.DoubleToInt64Bits(r.RawScore),
                $"row {r.Rowid}: raw score {r.RawScore:R}, bare model {want:R}");
            seen.Add(r.Rowid);
        }

        Assert.Equal(count, seen.Count);
    }

    /// <summary>Polls <paramref name="condition"/>; on time-out the failure names <paramref name="what"/> and, when given, what <paramref name="actual"/> says the state is.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutSeconds = 180, Func<string>? actual = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {timeoutSeconds} s waiting for {what}{(actual is null ? "" : "; actual: " + actual())}");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_resultsSubscription is not null)
        {
            await _resultsSubscription.DisposeAsync();
        }

        await Bus.DisposeAsync();
        await Repository.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Keeps log lines (Information and above) in memory so tests can assert on them and show them on failure.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public override string ToString() => string.Join(Environment.NewLine, _lines);

    public ILogger CreateLogger(string categoryName) => new Logger(_lines);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lines.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
            }
        }
    }
}
