namespace HtmEngine.Storage;

/// <summary>
/// The system of record: metrics and their samples, on MySQL/MariaDB or embedded SQLite (same
/// logical schema, same semantics). Every method is one unit of work that commits before it
/// returns; transient failures (deadlock, lock wait timeout, lost connection, server restart) are
/// retried with back-off within <see cref="StorageOptions.RetryBudget"/>, so a method that returns
/// has committed and a method that throws has not been acknowledged. All SQL is parameterised.
/// Thread-safe; create one per process with <see cref="MetricRepository.OpenAsync"/>.
/// </summary>
public partial interface IMetricRepository : IAsyncDisposable
{
    /// <summary>The backend, for logs: "mysql" or "sqlite".</summary>
    string Backend { get; }

    /// <summary>Schema version after the migrations ran at open.</summary>
    int SchemaVersion { get; }

    /// <summary>Inserts a metric row and returns it (with the generated uid when none was given).</summary>
    Task<MetricRow> CreateMetricAsync(NewMetric metric, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns the <c>custom</c> metric with this name, creating it with the storer's defaults
    /// (<see cref="NewMetric.Custom"/>) when there is none. Creation is serialised on the
    /// <c>lock('metrics')</c> row so two callers never create the same name twice.
    /// </summary>
    Task<(MetricRow Metric, bool Created)> GetOrCreateCustomMetricAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The metric with this uid.</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task<MetricRow> GetMetricAsync(string uid, CancellationToken cancellationToken = default);

    /// <summary>The first metric with datasource <c>custom</c> and this name.</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task<MetricRow> GetCustomMetricByNameAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Metrics filtered by datasource, status and server (null = any), ordered by name then uid.</summary>
    Task<IReadOnlyList<MetricRow>> ListMetricsAsync(string? datasource = null, MetricStatus? status = null, string? server = null, CancellationToken cancellationToken = default);

    /// <summary>Metrics with a model (status other than UNMONITORED), ordered by name then uid.</summary>
    Task<IReadOnlyList<MetricRow>> ListModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets status and message (message cleared when null). With <paramref name="expectedStatus"/>
    /// the row changes only if its status is still that value.
    /// </summary>
    /// <exception cref="MetricNotFoundException">No row matched (missing, or status not <paramref name="expectedStatus"/>).</exception>
    Task SetMetricStatusAsync(string uid, MetricStatus status, string? message = null, MetricStatus? expectedStatus = null, CancellationToken cancellationToken = default);

    /// <summary>Sets <c>model_params</c>.</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task SetModelParamsAsync(string uid, string? modelParams, CancellationToken cancellationToken = default);

    /// <summary>Sets <c>parameters</c> (the model spec).</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task SetParametersAsync(string uid, string? parameters, CancellationToken cancellationToken = default);

    /// <summary>Sets <c>last_timestamp</c>.</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task SetLastTimestampAsync(string uid, DateTime? lastTimestamp, CancellationToken cancellationToken = default);

    /// <summary>Sets <c>collector_error</c>.</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task SetCollectorErrorAsync(string uid, string? collectorError, CancellationToken cancellationToken = default);

    /// <summary>Deletes the metric and, by the cascading foreign key, its samples.</summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task DeleteMetricAsync(string uid, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a batch of samples for one metric as htmengine's storer does (htmengine-spec §3.3), in
    /// one transaction under the metric's row lock: samples are compared with the newest stored row
    /// and with each other in order (timestamps rounded to whole seconds); an equal timestamp is a
    /// <see cref="SampleOutcome.Duplicate"/>, an older one <see cref="SampleOutcome.OutOfOrder"/>;
    /// NaN/infinite values are rejected; nothing is stored for an ERROR metric. Accepted samples get
    /// contiguous rowids after the highest rowid ever used and <c>last_rowid</c> moves with them.
    /// A rejected sample never fails the rest of the batch. A retry after a commit whose
    /// acknowledgement was lost finds that attempt's rows and returns its result, so nothing is
    /// stored twice and the caller still learns the rowids; a later re-delivery of the same
    /// samples is reported as duplicates.
    /// </summary>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task<StoreSamplesResult> StoreSamplesAsync(string uid, ReadOnlyMemory<Sample> samples, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes model results (raw score, likelihood, display value, predictions) for rows of one
    /// metric in one transaction. Returns how many of the rows exist and were updated.
    /// </summary>
    Task<int> UpdateScoresAsync(string uid, ReadOnlyMemory<ScoreUpdate> updates, CancellationToken cancellationToken = default);

    /// <summary>Rows of <c>metric_data</c> matching <paramref name="query"/>.</summary>
    Task<IReadOnlyList<MetricDataRow>> GetMetricDataAsync(MetricDataQuery query, CancellationToken cancellationToken = default);

    /// <summary>Number of stored samples of a metric.</summary>
    Task<long> GetMetricDataCountAsync(string uid, CancellationToken cancellationToken = default);

    /// <summary>Smallest and largest stored value of a metric, or null when it has no samples.</summary>
    Task<(double Min, double Max)?> GetMetricStatsAsync(string uid, CancellationToken cancellationToken = default);
}
