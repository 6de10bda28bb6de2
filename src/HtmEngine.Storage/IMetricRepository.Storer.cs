namespace HtmEngine.Storage;

/// <summary>The repository methods the metric storer and the datasource adapter need (issue #7).</summary>
public partial interface IMetricRepository
{
    /// <summary>
    /// Stores the samples of many metrics in one transaction: each metric's row is locked, its samples
    /// scrubbed against its newest stored row exactly as <see cref="StoreSamplesAsync"/> does, and the
    /// accepted ones get contiguous rowids. Unlike <see cref="StoreSamplesAsync"/> the samples of a metric in
    /// <see cref="MetricStatus.Error"/> are stored too (htmengine-spec §12.8 fixed): the database is the log.
    /// A retry after a commit whose acknowledgement was lost returns that commit's results.
    /// </summary>
    /// <param name="batch">One entry per metric; a uid may appear only once.</param>
    /// <param name="cancellationToken">Cancels the work (nothing is committed then).</param>
    /// <returns>One result per entry, in input order; null where the metric does not exist (nothing stored for it).</returns>
    /// <exception cref="ArgumentException">A uid appears twice.</exception>
    Task<StoreSamplesResult?[]> StoreSampleBatchAsync(IReadOnlyList<MetricSamples> batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set of a metric's monitoring state in one statement: when its status is still
    /// <paramref name="expectedStatus"/>, sets the status from <paramref name="update"/>, clears <c>message</c>,
    /// and sets <c>parameters</c>, <c>model_params</c> and <c>server</c> where the update gives them (null leaves
    /// the column as it is).
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="expectedStatus">The status the metric must still have.</param>
    /// <param name="update">The new values.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>True when the row changed; false when the metric is missing or its status differs.</returns>
    Task<bool> TryUpdateMonitoringAsync(string uid, MetricStatus expectedStatus, MonitoringUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// htmengine's repository <c>deleteModel</c> (spec §4.4): <c>parameters</c>, <c>model_params</c> and
    /// <c>message</c> become NULL, status UNMONITORED, and every score column of the metric's rows is cleared;
    /// the rows themselves stay. One transaction.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task.</returns>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task ResetModelAsync(string uid, CancellationToken cancellationToken = default);
}

/// <summary>The samples of one metric for <see cref="IMetricRepository.StoreSampleBatchAsync"/>.</summary>
/// <param name="Uid">The metric.</param>
/// <param name="Samples">Its samples in arrival order.</param>
public readonly record struct MetricSamples(string Uid, ReadOnlyMemory<Sample> Samples);

/// <summary>New values for <see cref="IMetricRepository.TryUpdateMonitoringAsync"/>; a null column is left unchanged.</summary>
/// <param name="Status">The new status.</param>
/// <param name="Parameters">The new <c>parameters</c> (model spec JSON), or null to keep it.</param>
/// <param name="ModelParams">The new <c>model_params</c> JSON, or null to keep it.</param>
/// <param name="Server">The new <c>server</c> (resource), or null to keep it.</param>
public sealed record MonitoringUpdate(MetricStatus Status, string? Parameters = null, string? ModelParams = null, string? Server = null);
