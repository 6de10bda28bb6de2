namespace HtmEngine.Ingest;

/// <summary>
/// Where accepted samples go (the metric data queue, a storer, or memory in tests). One call per batch, never
/// concurrently with itself. The batch belongs to the caller and is reused as soon as the returned task completes,
/// so copy or encode what you need first. A sink applies backpressure simply by completing slowly: the listener then
/// stops reading its sockets instead of buffering.
/// </summary>
public interface IMetricSampleSink
{
    /// <summary>Takes a batch of accepted samples.</summary>
    /// <param name="batch">The samples; valid only until the returned task completes.</param>
    /// <param name="cancellationToken">Signalled when the listener gives up waiting (shutdown timeout).</param>
    /// <returns>Completes when the batch may be reused.</returns>
    ValueTask WriteAsync(MetricSampleBatch batch, CancellationToken cancellationToken);
}
