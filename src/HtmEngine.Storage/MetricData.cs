namespace HtmEngine.Storage;

/// <summary>One incoming sample: a UTC timestamp and a value.</summary>
/// <param name="Timestamp">Sample time (UTC). Stored rounded to whole seconds, as MySQL <c>DATETIME</c> does.</param>
/// <param name="Value">Sample value; NaN and infinities are rejected per sample.</param>
public readonly record struct Sample(DateTime Timestamp, double Value);

/// <summary>The model's output for one stored row.</summary>
/// <param name="Rowid">Row to update.</param>
/// <param name="RawAnomalyScore">Raw anomaly score.</param>
/// <param name="AnomalyScore">Anomaly likelihood score.</param>
/// <param name="DisplayValue">Display value.</param>
/// <param name="MultiStepBestPredictions">Predictions JSON; NULL (not the string "null") when there are none.</param>
public readonly record struct ScoreUpdate(long Rowid, double? RawAnomalyScore, double? AnomalyScore, int? DisplayValue, string? MultiStepBestPredictions = null);

/// <summary>One row of <c>metric_data</c>; columns not asked for are left at their defaults.</summary>
/// <param name="Uid">Metric uid.</param>
/// <param name="Rowid">Row number within the metric, from 1.</param>
/// <param name="Timestamp">Sample time (UTC, whole seconds).</param>
/// <param name="MetricValue">Sample value.</param>
/// <param name="RawAnomalyScore">Raw anomaly score, null until scored.</param>
/// <param name="AnomalyScore">Anomaly likelihood, null until scored.</param>
/// <param name="DisplayValue">Display value, null until scored.</param>
/// <param name="MultiStepBestPredictions">Predictions JSON.</param>
public sealed record MetricDataRow(
    string Uid,
    long Rowid,
    DateTime Timestamp,
    double MetricValue,
    double? RawAnomalyScore,
    double? AnomalyScore,
    int? DisplayValue,
    string? MultiStepBestPredictions);

/// <summary>Columns of <c>metric_data</c> a query returns besides <c>uid</c> and <c>rowid</c>.</summary>
[Flags]
public enum MetricDataFields
{
    /// <summary>Only uid and rowid.</summary>
    None = 0,

    /// <summary><c>timestamp</c>.</summary>
    Timestamp = 1,

    /// <summary><c>metric_value</c>.</summary>
    MetricValue = 2,

    /// <summary><c>raw_anomaly_score</c>.</summary>
    RawAnomalyScore = 4,

    /// <summary><c>anomaly_score</c>.</summary>
    AnomalyScore = 8,

    /// <summary><c>display_value</c>.</summary>
    DisplayValue = 16,

    /// <summary><c>multi_step_best_predictions</c>.</summary>
    MultiStepBestPredictions = 32,

    /// <summary>Every column.</summary>
    All = Timestamp | MetricValue | RawAnomalyScore | AnomalyScore | DisplayValue | MultiStepBestPredictions,
}

/// <summary>Order of a metric-data query.</summary>
public enum MetricDataSort
{
    /// <summary><c>rowid ASC</c> (htmengine's default).</summary>
    RowidAscending,

    /// <summary><c>rowid DESC</c>.</summary>
    RowidDescending,

    /// <summary><c>timestamp ASC</c>, then rowid.</summary>
    TimestampAscending,

    /// <summary><c>timestamp DESC</c>, then rowid descending.</summary>
    TimestampDescending,

    /// <summary><c>anomaly_score DESC</c>, then rowid.</summary>
    AnomalyScoreDescending,

    /// <summary><c>display_value DESC</c>, then rowid.</summary>
    DisplayValueDescending,
}

/// <summary>
/// Filters of a metric-data query. Every filter that is set applies (they are AND-ed; htmengine
/// let one family win over the others). Bounds are inclusive.
/// </summary>
public sealed record MetricDataQuery
{
    /// <summary>Only rows of this metric; all metrics when null.</summary>
    public string? Uid { get; init; }

    /// <summary>Only the row with this rowid.</summary>
    public long? Rowid { get; init; }

    /// <summary>Rowid lower bound (inclusive).</summary>
    public long? StartRowid { get; init; }

    /// <summary>Rowid upper bound (inclusive).</summary>
    public long? StopRowid { get; init; }

    /// <summary>Timestamp lower bound (inclusive, UTC).</summary>
    public DateTime? FromTimestamp { get; init; }

    /// <summary>Timestamp upper bound (inclusive, UTC).</summary>
    public DateTime? ToTimestamp { get; init; }

    /// <summary>
    /// Minimum anomaly score: &gt; 0 keeps rows with <c>anomaly_score ≥ MinScore</c>; 0 keeps scored
    /// rows (<c>anomaly_score IS NOT NULL</c>); null applies no score filter.
    /// </summary>
    public double? MinScore { get; init; }

    /// <summary>Order of the rows.</summary>
    public MetricDataSort Sort { get; init; } = MetricDataSort.RowidAscending;

    /// <summary>At most this many rows.</summary>
    public int? Limit { get; init; }

    /// <summary>Rows to skip after sorting.</summary>
    public int? Offset { get; init; }

    /// <summary>Columns to read besides uid and rowid.</summary>
    public MetricDataFields Fields { get; init; } = MetricDataFields.All;
}
