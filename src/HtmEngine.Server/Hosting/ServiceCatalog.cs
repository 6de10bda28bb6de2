using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Gc;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Runtime.Models;
using HtmEngine.Runtime.Storer;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Web;

namespace HtmEngine.Server.Hosting;

/// <summary>One service <c>htmengine serve --services</c> can run.</summary>
/// <param name="Name">The name used on the command line and in supervisord.conf.</param>
/// <param name="Description">What it does, for the start-up plan.</param>
/// <param name="Issue">The issue that delivers it, shown while <paramref name="Create"/> is null.</param>
/// <param name="Create">Builds the service from the configuration and the shared runtime; null until its issue lands.</param>
/// <param name="DefaultOn">Whether <c>serve</c> without <c>--services</c> runs it.</param>
public sealed record ServiceEntry(string Name, string Description, int Issue, Func<EngineOptions, EngineRuntime, IEngineService>? Create, bool DefaultOn = true);

/// <summary>The services of the engine, in start order. Later issues replace a null factory with their service.</summary>
public static class ServiceCatalog
{
    /// <summary>Every service, in start order (consumers before producers so no message waits for a reader).</summary>
    public static IReadOnlyList<ServiceEntry> All { get; } =
    [
        new("anomaly", "anomaly service: likelihood, anomaly_score, results exchange", 7,
            static (engine, runtime) => new AnomalyService(runtime.Repository, runtime.Bus, EngineComposition.Anomaly(engine), runtime.LoggerFactory)),
        new("models", "model scheduler and shard runners", 7,
            static (engine, runtime) => new ModelRunnerService(runtime.Repository, runtime.Bus, EngineComposition.Models(engine), runtime.LoggerFactory)),
        new("storer", "metric storer: queue to metric_data", 7,
            static (engine, runtime) => new MetricStorerService(runtime.Repository, runtime.Bus, EngineComposition.Storer(engine), runtime.LoggerFactory)),
        new("listener", "Graphite plaintext listener", 5,
            static (engine, runtime) => new ListenerService(engine.ToGraphiteListenerOptions(), runtime.Bus, engine.MetricListener.QueueName, runtime.LoggerFactory)),
        new("web", "HTTP API: metrics, data, monitor/unmonitor/delete/export/import, /healthz, /metrics", 8,
            static (engine, runtime) => new WebService(engine.Web, runtime, EngineComposition.Adapter(engine, runtime))),
        new("gc", "metric garbage collector: deletes old metric_data rows (off by default)", 7,
            static (engine, runtime) => new MetricGarbageCollectorService(runtime.Repository, EngineComposition.GarbageCollector(engine), runtime.LoggerFactory),
            DefaultOn: false),
    ];

    /// <summary>The services <c>serve</c> runs without <c>--services</c>.</summary>
    public static IReadOnlyList<ServiceEntry> Defaults { get; } = [.. All.Where(s => s.DefaultOn)];

    /// <summary>Finds a service by name.</summary>
    public static ServiceEntry? Find(string name) => All.FirstOrDefault(s => s.Name == name);
}
