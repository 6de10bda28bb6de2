using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Storer;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Contract;

/// <summary>
/// One backend (repository + bus) for the storer/adapter contract suite, with unique queue and metric names per
/// test so that tests can share servers with other engineers' tests.
/// </summary>
public sealed class EngineHarness : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly List<IAsyncDisposable> _owned = [];
    private readonly ConcurrentQueue<ModelRequest>[] _received;
    private readonly List<IBusSubscription> _shardSubscriptions = [];

    private EngineHarness(IMetricRepository repository, IMessageBus bus, int shards)
    {
        Repository = repository;
        Bus = bus;
        Shards = shards;
        var id = Guid.NewGuid().ToString("N")[..12];
        Names = "test.storer." + id + ".";
        DataQueue = "htmengine.test." + id + ".data";
        Prefix = "htmengine.test." + id + ".model.input.";
        _received = new ConcurrentQueue<ModelRequest>[shards];
        for (var i = 0; i < shards; i++)
        {
            _received[i] = new ConcurrentQueue<ModelRequest>();
        }
    }

    public IMetricRepository Repository { get; }

    public IMessageBus Bus { get; }

    public int Shards { get; }

    /// <summary>Prefix of every metric name this test uses.</summary>
    public string Names { get; }

    public string DataQueue { get; }

    public string Prefix { get; }

    public static async Task<EngineHarness> CreateAsync(IMetricRepository repository, IMessageBus bus, int shards = 2)
    {
        var harness = new EngineHarness(repository, bus, shards);
        await bus.DeclareQueueAsync(harness.DataQueue);
        for (var i = 0; i < shards; i++)
        {
            var queue = ModelShards.InputQueue(harness.Prefix, i);
            await bus.DeclareQueueAsync(queue);
            var sink = harness._received[i];
            harness._shardSubscriptions.Add(await bus.ConsumeAsync(queue, (m, _) =>
            {
                Assert.Equal(ModelMessageCodec.RequestsContentType, m.ContentType);
                foreach (var r in ModelMessageCodec.DecodeRequests(m.Body.Span))
                {
                    sink.Enqueue(r);
                }

                return ValueTask.FromResult(ConsumeOutcome.Ack);
            }, new ConsumerOptions(Prefetch: 16)));
        }

        return harness;
    }

    public string Name(string suffix) => Names + suffix;

    public MetricStorerOptions StorerOptions => new(DataQueue, Prefix, Shards) { MaxRetryDelay = TimeSpan.FromMilliseconds(100) };

    public DatasourceAdapter Adapter(TimeProvider? clock = null) =>
        new(Repository, Bus, new DatasourceAdapterOptions(Prefix, Shards) { TimeProvider = clock ?? TimeProvider.System });

    public async Task<MetricStorerService> StartStorerAsync(IMetricRepository? repository = null, MetricStorerOptions? options = null)
    {
        var storer = new MetricStorerService(repository ?? Repository, Bus, options ?? StorerOptions);
        _owned.Add(storer);
        await storer.StartAsync(CancellationToken.None);
        return storer;
    }

    /// <summary>Every request received so far on the shard queues.</summary>
    public IReadOnlyList<ModelRequest> Requests()
    {
        var all = new List<ModelRequest>();
        foreach (var q in _received)
        {
            all.AddRange(q);
        }

        return all;
    }

    /// <summary>The requests received on one shard, in order.</summary>
    public IReadOnlyList<ModelRequest> RequestsOn(int shard) => [.. _received[shard]];

    public IReadOnlyList<ModelRequest> RequestsFor(string uid) => [.. Requests().Where(r => r.MetricUid == uid)];

    public int ShardOf(string uid) => ModelShards.ShardOf(uid, Shards);

    public Task PublishLinesAsync(params string[] lines) =>
        Bus.PublishToQueueAsync(DataQueue, [new OutgoingMessage(PlainMetricMessage.Encode(lines), ContentType: PlainMetricMessage.ContentType)]).AsTask();

    public Task PublishRawAsync(byte[] body, string? contentType) =>
        Bus.PublishToQueueAsync(DataQueue, [new OutgoingMessage(body, ContentType: contentType)]).AsTask();

    public Task PublishBinaryAsync(params (string Name, double Value, long Seconds)[] samples)
    {
        var names = new MetricNameTable();
        var batch = new MetricSampleBatch(names, Math.Max(1, samples.Length));
        foreach (var (name, value, seconds) in samples)
        {
            batch.TryAdd(new MetricSample(names.GetOrAdd(Encoding.UTF8.GetBytes(name)), value, seconds));
        }

        return PublishRawAsync(SampleBatchCodec.Encode(batch), SampleBatchCodec.ContentType);
    }

    /// <summary>Graphite lines for one metric: values v0, v0+1, … at t0, t0+300, ….</summary>
    public static string[] Lines(string name, int count, long t0 = 1_400_000_000, double v0 = 0, int step = 300)
    {
        var lines = new string[count];
        for (var i = 0; i < count; i++)
        {
            lines[i] = FormattableString.Invariant($"{name} {v0 + i} {t0 + (i * (long)step)}");
        }

        return lines;
    }

    public async Task<MetricRow> MetricAsync(string name) => await Repository.GetCustomMetricByNameAsync(name);

    public async Task<IReadOnlyList<MetricDataRow>> RowsAsync(string uid) =>
        await Repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid });

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("timed out waiting for " + what);
            }

            await Task.Delay(25);
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(() => Task.FromResult(condition()), what);

    /// <summary>As above, and a timeout also says what <paramref name="state"/> finds then (what is wrong, not only what was awaited).</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, Func<Task<string>> state)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("timed out waiting for " + what + ": " + await state());
            }

            await Task.Delay(25);
        }
    }

    /// <summary>Waits until the metric exists and has <paramref name="rows"/> rows.</summary>
    public async Task<MetricRow> WaitForRowsAsync(string name, long rows)
    {
        await WaitUntilAsync(async () =>
        {
            try
            {
                var m = await Repository.GetCustomMetricByNameAsync(name);
                return await Repository.GetMetricDataCountAsync(m.Uid) >= rows;
            }
            catch (MetricNotFoundException)
            {
                return false;
            }
        }, $"{rows} rows of {name}");
        return await MetricAsync(name);
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        foreach (var s in _shardSubscriptions)
        {
            await s.DisposeAsync();
        }

        try
        {
            foreach (var m in await Repository.ListMetricsAsync())
            {
                if (m.Name is { } n && n.StartsWith(Names, StringComparison.Ordinal))
                {
                    await Repository.DeleteMetricAsync(m.Uid);
                }
            }
        }
        catch (StorageException)
        {
            // Best effort: names are unique per test.
        }

        await Bus.DeleteQueueAsync(DataQueue);
        for (var i = 0; i < Shards; i++)
        {
            await Bus.DeleteQueueAsync(ModelShards.InputQueue(Prefix, i));
        }
    }
}

/// <summary>
/// A repository whose chosen methods fail while <see cref="Failing"/> says so, built with <see cref="DispatchProxy"/>
/// so it keeps compiling when the interface grows.
/// </summary>
public class FlakyRepository : DispatchProxy
{
    private IMetricRepository _inner = null!;

    /// <summary>Failures still to come per method name (int.MaxValue: for ever).</summary>
    public ConcurrentDictionary<string, int> Failing { get; } = new();

    /// <summary>Calls that failed.</summary>
    public int Failures;

    public bool Transient { get; set; } = true;

    /// <summary>Calls per method name (failed ones included).</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new();

    /// <summary>How many times <paramref name="method"/> was called.</summary>
    public int CallsOf(string method) => Calls.GetValueOrDefault(method);

    public static (IMetricRepository Repository, FlakyRepository Control) Wrap(IMetricRepository inner)
    {
        var proxy = Create<IMetricRepository, FlakyRepository>();
        var control = (FlakyRepository)(object)proxy;
        control._inner = inner;
        return (proxy, control);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        Calls.AddOrUpdate(targetMethod.Name, 1, static (_, n) => n + 1);
        if (Failing.TryGetValue(targetMethod.Name, out var left) && left > 0)
        {
            Failing[targetMethod.Name] = left == int.MaxValue ? left : left - 1;
            Interlocked.Increment(ref Failures);
            var error = new StorageException("injected failure of " + targetMethod.Name, Transient, null);
            var type = targetMethod.ReturnType;
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Task<>))
            {
                var from = typeof(Task).GetMethod(nameof(Task.FromException), 1, [typeof(Exception)])!.MakeGenericMethod(type.GetGenericArguments()[0]);
                return from.Invoke(null, [error]);
            }

            return Task.FromException(error);
        }

        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
