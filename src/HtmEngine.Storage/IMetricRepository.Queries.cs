namespace HtmEngine.Storage;

/// <summary>The application-side queries of htmengine's repository (htmengine-spec §9.3) beyond the services' own.</summary>
public partial interface IMetricRepository
{
    /// <summary>
    /// One summary per <c>server</c> over the monitored metrics (status other than UNMONITORED), ordered by server
    /// (htmengine's <c>getInstances</c>).
    /// </summary>
    Task<IReadOnlyList<InstanceSummary>> GetInstancesAsync(CancellationToken cancellationToken = default);

    /// <summary>Number of metrics whose <c>server</c> is <paramref name="server"/> (htmengine's <c>getMetricCountForServer</c>).</summary>
    Task<long> GetMetricCountForServerAsync(string server, CancellationToken cancellationToken = default);

    /// <summary>Uids of the metrics whose <c>server</c> is <paramref name="server"/>, ordered (htmengine's <c>listMetricIDsForInstance</c>).</summary>
    Task<IReadOnlyList<string>> ListMetricIdsForServerAsync(string server, CancellationToken cancellationToken = default);

    /// <summary>Rows of a metric the model has scored (<c>raw_anomaly_score</c> not NULL) (htmengine's <c>getProcessedMetricDataCount</c>).</summary>
    Task<long> GetProcessedMetricDataCountAsync(string uid, CancellationToken cancellationToken = default);

    /// <summary>
    /// Rows still waiting for an anomaly score (<c>anomaly_score</c> NULL) that belong to ACTIVE metrics
    /// (htmengine's <c>getUnprocessedModelDataCount</c>).
    /// </summary>
    Task<long> GetUnprocessedModelDataCountAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The newest <paramref name="limit"/> scored rows of a metric (<c>raw_anomaly_score</c> not NULL), newest first by
    /// timestamp (htmengine's <c>getMetricDataWithRawAnomalyScoresTail</c>).
    /// </summary>
    Task<IReadOnlyList<MetricDataRow>> GetMetricDataWithRawAnomalyScoresTailAsync(string uid, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// htmengine's <c>getMetricIdsSortedByDisplayValue</c>: over the window of <paramref name="periodHours"/> hours that
    /// ends at the newest timestamp in <c>metric_data</c> (inclusive at both ends), each metric's rows are grouped into
    /// blocks of <c>periodHours × 150</c> seconds counted from the Unix epoch (24 bars per window); its score is the sum
    /// over blocks of the block's largest <c>display_value</c>. Metrics with rows in the window are returned by score,
    /// highest first (a metric with no display value at all last, with a null score), then by uid.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="periodHours"/> is not positive.</exception>
    Task<IReadOnlyList<MetricDisplayScore>> GetMetricIdsSortedByDisplayValueAsync(int periodHours, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes a metric's model from the database as htmengine's <c>deleteModel</c> (spec §4.4): <c>parameters</c>,
    /// <c>model_params</c> and <c>message</c> become NULL, status UNMONITORED, and every score column of its rows
    /// (<c>raw_anomaly_score</c>, <c>anomaly_score</c>, <c>display_value</c>, <c>multi_step_best_predictions</c>)
    /// NULL; the samples are kept.
    /// </summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task DeleteModelAsync(string uid, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a server's status in <c>instance_status_history</c> only when it differs from the latest recorded one
    /// (htmengine's <c>saveMetricInstanceStatus</c>). Returns true when a row was written. A second status in the same
    /// second replaces that second's row.
    /// </summary>
    Task<bool> SaveInstanceStatusAsync(string server, string status, DateTime? timestamp = null, CancellationToken cancellationToken = default);

    /// <summary>A server's recorded statuses, newest first (htmengine's <c>getInstanceStatusHistory</c>).</summary>
    Task<IReadOnlyList<InstanceStatus>> GetInstanceStatusHistoryAsync(string server, CancellationToken cancellationToken = default);
}

/// <summary>One server ("instance") and its monitored metrics, as htmengine's <c>getInstances</c> returns it.</summary>
/// <param name="Server">The <c>server</c> column shared by the metrics.</param>
/// <param name="Location">The first metric's location.</param>
/// <param name="Namespace">The first metric's name up to its second <c>/</c> when it has two, else the whole name.</param>
/// <param name="Name">The first metric's <c>tag_name</c>.</param>
/// <param name="Status">The bitwise OR of the metrics' statuses.</param>
/// <param name="Parameters">The first metric's <c>parameters</c> (model spec JSON, undecoded).</param>
/// <param name="Message">The non-empty status messages of the metrics, joined by newlines; null when there are none.</param>
/// <param name="MetricCount">How many monitored metrics the server has.</param>
public sealed record InstanceSummary(string? Server, string? Location, string? Namespace, string? Name, MetricStatus Status, string? Parameters, string? Message, int MetricCount);

/// <summary>A row of <c>instance_status_history</c>.</summary>
/// <param name="Server">The server.</param>
/// <param name="Timestamp">When (UTC, whole seconds).</param>
/// <param name="Status">The status text.</param>
public sealed record InstanceStatus(string Server, DateTime Timestamp, string Status);

/// <summary>A metric's display-value score over a window.</summary>
/// <param name="Uid">The metric.</param>
/// <param name="Score">Sum of the per-block maxima of <c>display_value</c>; null when no row of the window has one.</param>
public readonly record struct MetricDisplayScore(string Uid, long? Score);
