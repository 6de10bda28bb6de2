using HtmEngine.Core.Anomaly;

namespace HtmEngine.Runtime.Anomaly;

/// <summary>What the anomaly service consumes, where it publishes, and how it computes likelihoods.</summary>
/// <param name="ResultsQueue"><c>[interface_bus] results_queue</c>: model results from the shard runners.</param>
/// <param name="ResultsExchange"><c>[metric_streamer] results_exchange_name</c>: the fanout exchange for subscribers.</param>
/// <param name="Likelihood"><c>[anomaly_likelihood]</c> settings.</param>
public sealed record AnomalyServiceOptions(string ResultsQueue, string ResultsExchange, EngineLikelihoodSettings Likelihood)
{
    /// <summary>
    /// Result messages delivered and not yet settled (the original used 2); raised to twice
    /// <see cref="BatchMessages"/> when lower, so the next batch gathers while one is committed.
    /// </summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>
    /// Most waiting result messages handled together: one metric read, one commit and one publish for all of them,
    /// then all acknowledged (issue #7). 1 handles one message at a time. Default 64.
    /// </summary>
    public int BatchMessages { get; init; } = 64;

    /// <summary>Most body bytes of the result messages handled together. Default 8 MiB.</summary>
    public int BatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Failures after which a result message goes to the dead-letter queue.</summary>
    public int MaxFailedAttempts { get; init; } = 5;

    /// <summary>
    /// Metrics whose newest scored rows are kept in memory for the likelihood refreshes (least recently used beyond
    /// it are dropped and read again from the database when needed). Each holds at most
    /// <see cref="EngineLikelihoodSettings.SampleSize"/> rows of 32 bytes.
    /// </summary>
    public int HistoryCacheMetrics { get; init; } = 1024;
}
