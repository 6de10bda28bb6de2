using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Server.Web;

namespace HtmEngine.Tests.Unit.Web;

/// <summary>
/// A whole engine in this process as <c>htmengine serve</c> composes it, on the embedded backend (SQLite in a temp
/// directory, in-process bus): every default service, Graphite and HTTP on free loopback ports.
/// </summary>
public sealed class InProcessEngine : IAsyncDisposable
{
    private readonly string _directory;
    private readonly List<IEngineService> _services;

    private InProcessEngine(string directory, EngineOptions options, EngineRuntime runtime, List<IEngineService> services)
    {
        _directory = directory;
        Options = options;
        Runtime = runtime;
        _services = services;
        Url = services.OfType<WebService>().Single().BaseAddress!;
        GraphitePort = services.OfType<ListenerService>().Single().LocalEndPoint!.Port;
    }

    /// <summary>The configuration the services run with.</summary>
    public EngineOptions Options { get; }

    /// <summary>The repository and bus.</summary>
    public EngineRuntime Runtime { get; }

    /// <summary>The HTTP API's address.</summary>
    public Uri Url { get; }

    /// <summary>The Graphite listener's port on 127.0.0.1.</summary>
    public int GraphitePort { get; }

    /// <summary>
    /// Starts the engine; <paramref name="token"/> is <c>[web] token</c>, <paramref name="memoryBudgetMb"/> (when given)
    /// <c>[model_runner] memory_budget_mb</c>.
    /// </summary>
    public static async Task<InProcessEngine> StartAsync(string token = "", int shards = 1, int? memoryBudgetMb = null)
    {
        string directory = Path.Combine(Path.GetTempPath(), "htmengine-engine-" + Guid.NewGuid().ToString("N"));
        var shipped = ConfigLoader.Load(ShippedConf());
        var options = shipped with
        {
            Repository = shipped.Repository with { SqlitePath = Path.Combine(directory, "engine.db") },
            MetricListener = shipped.MetricListener with { PlaintextPort = 0 },
            Web = new WebOptions(new ListenEndpoint("127.0.0.1", 0), token),
            CheckpointRoot = Path.Combine(directory, "checkpoints"),
            ModelSwapper = shipped.ModelSwapper with { Shards = shards, MemoryBudgetMb = memoryBudgetMb ?? shipped.ModelSwapper.MemoryBudgetMb },
        };
        var runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(options));
        var services = new List<IEngineService>();
        foreach (var entry in ServiceCatalog.Defaults)
        {
            var service = entry.Create!(options, runtime);
            await service.StartAsync(CancellationToken.None);
            services.Add(service);
        }

        services.OfType<WebService>().Single().Observe(services);
        return new InProcessEngine(directory, options, runtime, services);
    }

    /// <summary>The repository's shipped <c>conf/</c> (this file is compiled into both test projects).</summary>
    private static string ShippedConf()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
            {
                return Path.Combine(dir.FullName, "conf");
            }
        }

        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        for (int i = _services.Count - 1; i >= 0; i--)
        {
            await _services[i].StopAsync(CancellationToken.None);
            if (_services[i] is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }

        await Runtime.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
