namespace HtmEngine.Runtime.Contracts;

/// <summary>What one entry of a model result message reports.</summary>
public enum ModelResultKind : byte
{
    /// <summary>A row was scored (or failed, see <see cref="ModelResult.Status"/>).</summary>
    Inference = 1,

    /// <summary>A defineModel or deleteModel command finished.</summary>
    CommandResult = 2,
}

/// <summary>
/// One entry of a model result message (shard runner → anomaly service). Inference results repeat the
/// row's timestamp and value so the anomaly service can compute likelihoods and publish without a read.
/// </summary>
/// <param name="Kind">Inference or command result.</param>
/// <param name="MetricUid">The metric (and model) uid.</param>
/// <param name="Rowid">The scored row; 0 for command results.</param>
/// <param name="Timestamp">The row's timestamp (UTC); default for command results.</param>
/// <param name="Value">The row's value; 0 for command results.</param>
/// <param name="RawScore">The raw anomaly score; 0 when <see cref="Status"/> is not 0.</param>
/// <param name="Status">0 for success, otherwise an htmengine error number (spec §4.10).</param>
/// <param name="ErrorMessage">Why it failed; null on success.</param>
/// <param name="CommandId">The command's id for command results; null for inferences.</param>
/// <param name="Method"><c>defineModel</c> or <c>deleteModel</c> for command results; null for inferences.</param>
public readonly record struct ModelResult(
    ModelResultKind Kind,
    string MetricUid,
    long Rowid,
    DateTime Timestamp,
    double Value,
    double RawScore,
    int Status,
    string? ErrorMessage,
    string? CommandId,
    string? Method)
{
    /// <summary>A successful inference.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="rowid">The row.</param>
    /// <param name="timestamp">Its timestamp.</param>
    /// <param name="value">Its value.</param>
    /// <param name="rawScore">The model's raw anomaly score.</param>
    /// <returns>The result.</returns>
    public static ModelResult Scored(string metricUid, long rowid, DateTime timestamp, double value, double rawScore) =>
        new(ModelResultKind.Inference, metricUid, rowid, timestamp, value, rawScore, 0, null, null, null);

    /// <summary>A finished command.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="commandId">The command's id.</param>
    /// <param name="method"><c>defineModel</c> or <c>deleteModel</c>.</param>
    /// <param name="status">0 for success, else an error number.</param>
    /// <param name="errorMessage">Why it failed, or null.</param>
    /// <returns>The result.</returns>
    public static ModelResult ForCommand(string metricUid, string commandId, string method, int status, string? errorMessage) =>
        new(ModelResultKind.CommandResult, metricUid, 0, default, 0, 0, status, errorMessage, commandId, method);
}
