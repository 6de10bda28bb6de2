using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Gc;
using HtmEngine.Runtime.Hosting;
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
            new StorageOptions(r.Host, r.Port, r.Database, r.User, r.Password, r.SqlitePath),
            b.UsesInProcessBus ? null : new RabbitMqBusOptions(b.Host, b.Port, b.VirtualHost, b.User, b.Password),
            engine.MetricListener.QueueName,
            engine.ModelSwapper.ResultsQueue,
            engine.MetricStreamer.ResultsExchangeName,
            engine.ModelSwapper.ModelInputQueuePrefix);
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
        return new AnomalyServiceOptions(engine.ModelSwapper.ResultsQueue, engine.MetricStreamer.ResultsExchangeName, Likelihood(engine));
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
