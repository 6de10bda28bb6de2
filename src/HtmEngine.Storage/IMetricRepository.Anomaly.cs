namespace HtmEngine.Storage;

/// <summary>The anomaly service's and the garbage collector's units of work.</summary>
public partial interface IMetricRepository
{
    /// <summary>
    /// Commits one anomaly batch of a metric in one transaction: locks the metric row, hands it to
    /// <paramref name="rewriteModelParams"/> (which sees the committed <c>status</c> and <c>model_params</c> under the
    /// lock and returns the new <c>model_params</c>, or null to abandon the batch), then writes every row of
    /// <paramref name="updates"/> and the new <c>model_params</c>. The callback may run more than once (transient
    /// errors retry the whole unit), so it must not have side effects beyond its return value.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="updates">The scored rows.</param>
    /// <param name="rewriteModelParams">Decides, under the row lock, the new <c>model_params</c>; null abandons (rolls back).</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>True when committed; false when the callback abandoned the batch.</returns>
    /// <exception cref="MetricNotFoundException">No such metric.</exception>
    Task<bool> CommitAnomalyScoresAsync(string uid, ReadOnlyMemory<ScoreUpdate> updates, Func<MetricRow, string?> rewriteModelParams, CancellationToken cancellationToken = default);

    /// <summary>
    /// Commits the anomaly batches of several metrics in one transaction: each metric as
    /// <see cref="CommitAnomalyScoresAsync"/> does (row lock, callback, scores, <c>model_params</c>), the metric rows
    /// locked in ordinal uid order (the storer's order, so the two never wait on each other in a cycle). A metric whose
    /// callback abandons it, or that does not exist, is left unchanged; the others are committed. Callbacks may run
    /// more than once (transient errors retry the whole unit).
    /// </summary>
    /// <param name="commits">One entry per metric (uids distinct).</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>Per entry, in the order given: committed, abandoned by its callback, or metric not found.</returns>
    Task<AnomalyCommitOutcome[]> CommitAnomalyScoresBatchAsync(IReadOnlyList<AnomalyCommit> commits, CancellationToken cancellationToken = default);

    /// <summary>The rows of the metrics named that exist (one query per 500 uids instead of one per metric), in no particular order.</summary>
    /// <param name="uids">The metrics.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The rows found.</returns>
    Task<IReadOnlyList<MetricRow>> GetMetricsAsync(IReadOnlyList<string> uids, CancellationToken cancellationToken = default);

    /// <summary>Number of the metric's rows with a non-null <c>raw_anomaly_score</c>.</summary>
    /// <param name="uid">The metric.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The count.</returns>
    Task<long> CountScoredRowsAsync(string uid, CancellationToken cancellationToken = default);

    /// <summary>
    /// The newest ≤ <paramref name="limit"/> rows of the metric with a non-null <c>raw_anomaly_score</c>, in ascending
    /// rowid (and so timestamp) order, with timestamp, value and raw score.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="limit">The most rows to return.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The rows, oldest first.</returns>
    Task<IReadOnlyList<MetricDataRow>> GetNewestScoredRowsAsync(string uid, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// For each metric named, what <see cref="CountScoredRowsAsync"/> and <see cref="GetNewestScoredRowsAsync"/> return
    /// for it, read with a few queries for all of them: one count per 500 metrics, one read of the rows of every
    /// metric that has at most <paramref name="limit"/> scored rows (per 500 metrics), and the newest-rows query of
    /// <see cref="GetNewestScoredRowsAsync"/> only for a metric with more. The anomaly service loads the likelihood
    /// histories of a batch's cold metrics so: a thousand new metrics cost two queries instead of two thousand.
    /// </summary>
    /// <param name="uids">The metrics (an unknown metric reads as one without scored rows).</param>
    /// <param name="limit">The most rows per metric.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>One entry per distinct uid given.</returns>
    Task<IReadOnlyDictionary<string, ScoredRowsHistory>> GetScoredHistoriesAsync(IReadOnlyList<string> uids, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes up to <paramref name="maxRows"/> of the metric's oldest rows whose timestamp is before
    /// <paramref name="olderThan"/>, never touching its newest <paramref name="keepNewest"/> rows (counting only rows
    /// with a raw anomaly score when <paramref name="scoredOnly"/>) nor any row after them. One transaction.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="olderThan">Only rows with an older timestamp (UTC) go.</param>
    /// <param name="keepNewest">How many of the newest (scored) rows always stay.</param>
    /// <param name="scoredOnly">True to count only scored rows among the kept ones (so unscored rows after them stay too).</param>
    /// <param name="maxRows">The most rows deleted by this call.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>How many rows were deleted.</returns>
    Task<int> DeleteOldMetricDataAsync(string uid, DateTime olderThan, int keepNewest, bool scoredOnly, int maxRows, CancellationToken cancellationToken = default);
}

/// <summary>One metric's part of <see cref="IMetricRepository.GetScoredHistoriesAsync"/>.</summary>
/// <param name="Count">Number of the metric's rows with a non-null <c>raw_anomaly_score</c>.</param>
/// <param name="Newest">Its newest ≤ limit such rows, oldest first (timestamp, value and raw score).</param>
public sealed record ScoredRowsHistory(long Count, IReadOnlyList<MetricDataRow> Newest);

/// <summary>One metric's part of <see cref="IMetricRepository.CommitAnomalyScoresBatchAsync"/>.</summary>
/// <param name="Uid">The metric.</param>
/// <param name="Updates">The scored rows.</param>
/// <param name="RewriteModelParams">Decides, under the row lock, the new <c>model_params</c>; null abandons this metric.</param>
public sealed record AnomalyCommit(string Uid, ReadOnlyMemory<ScoreUpdate> Updates, Func<MetricRow, string?> RewriteModelParams);

/// <summary>What <see cref="IMetricRepository.CommitAnomalyScoresBatchAsync"/> did with one metric.</summary>
public enum AnomalyCommitOutcome
{
    /// <summary>Scores and <c>model_params</c> written.</summary>
    Committed,

    /// <summary>The callback returned null: nothing written for this metric.</summary>
    Abandoned,

    /// <summary>No such metric: nothing written.</summary>
    NotFound,
}
