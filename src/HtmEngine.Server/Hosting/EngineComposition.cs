using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Gc;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Models;
using HtmEngine.Runtime.Storer;
using HtmEngine.Server.Configuration;
using HtmEngine.Storage;

namespace HtmEngine.Server.Hosting;

/// <summary>Maps the bound configuration onto the runtime's and the services' option records.</summary>
public static class EngineComposition
{
    /// <summary>The repository, bus and queue names of <paramref name="engine"/>.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The runtime options.</returns>
    public static EngineRuntimeOptions Runtime(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var r = engine.Repository;
        var b = engine.Bus;
        return new EngineRuntimeOptions(
            new StorageOptions(r.Host, r.Port, r.Database, r.User, r.Password, r.SqlitePath) { RetryBudget = TimeSpan.FromSeconds(r.RetryBudgetSeconds) },
            b.UsesInProcessBus ? null : new RabbitMqBusOptions(b.Host, b.Port, b.VirtualHost, b.User, b.Password),
            engine.MetricListener.QueueName,
            engine.ModelSwapper.ResultsQueue,
            engine.MetricStreamer.ResultsExchangeName,
            engine.ModelSwapper.ModelInputQueuePrefix,
            Shards(engine));
    }

    /// <summary><c>[model_runner] shards</c> resolved (0 = one per processor), as every service must agree on it.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The shard count.</returns>
    public static int Shards(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return engine.ModelSwapper.Shards == 0 ? Environment.ProcessorCount : engine.ModelSwapper.Shards;
    }

    /// <summary>The model runners' options.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The options.</returns>
    public static ModelRunnerOptions Models(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var m = engine.ModelSwapper;
        return new ModelRunnerOptions(m.ModelInputQueuePrefix, m.ResultsQueue, Shards(engine), m.MemoryBudgetMb * 1024L * 1024L, engine.CheckpointRoot)
        {
            ChunkSize = engine.MetricStreamer.ChunkSize,
            BatchMessages = engine.BatchConsume.MaxMessages,
            BatchBytes = engine.BatchConsume.MaxBytes,
        };
    }

    /// <summary>The storer's options.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The options.</returns>
    public static MetricStorerOptions Storer(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return new MetricStorerOptions(engine.MetricListener.QueueName, engine.ModelSwapper.ModelInputQueuePrefix, Shards(engine))
        {
            ChunkSize = engine.MetricStreamer.ChunkSize,
            BatchMessages = engine.BatchConsume.MaxMessages,
            BatchBytes = engine.BatchConsume.MaxBytes,
        };
    }

    /// <summary>A datasource adapter on the runtime's repository and bus, with the engine's shard count.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <param name="runtime">The opened runtime.</param>
    /// <returns>The adapter.</returns>
    public static DatasourceAdapter Adapter(EngineOptions engine, EngineRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(runtime);
        return new DatasourceAdapter(runtime.Repository, runtime.Bus, new DatasourceAdapterOptions(engine.ModelSwapper.ModelInputQueuePrefix, Shards(engine)), runtime.LoggerFactory);
    }

    /// <summary><c>[anomaly_likelihood]</c> as the likelihood helper's settings.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The settings.</returns>
    public static EngineLikelihoodSettings Likelihood(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var a = engine.AnomalyLikelihood;
        return new EngineLikelihoodSettings(a.MinSampleSize, a.RefreshRate, a.SampleSize);
    }

    /// <summary>The anomaly service's options.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The options.</returns>
    public static AnomalyServiceOptions Anomaly(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return new AnomalyServiceOptions(engine.ModelSwapper.ResultsQueue, engine.MetricStreamer.ResultsExchangeName, Likelihood(engine))
        {
            BatchMessages = engine.BatchConsume.MaxMessages,
            BatchBytes = engine.BatchConsume.MaxBytes,
        };
    }

    /// <summary>The garbage collector's options; it keeps the likelihood's whole sample of every metric.</summary>
    /// <param name="engine">The bound configuration.</param>
    /// <returns>The options.</returns>
    public static MetricGarbageCollectorOptions GarbageCollector(EngineOptions engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var g = engine.GarbageCollector;
        return new MetricGarbageCollectorOptions(g.ThresholdDays, TimeSpan.FromSeconds(g.IntervalSeconds), g.BatchSize, engine.AnomalyLikelihood.SampleSize);
    }
}
