namespace HtmEngine.Runtime.Contracts;

/// <summary>What one entry of a model input message asks a shard runner to do.</summary>
public enum ModelRequestKind : byte
{
    /// <summary>Score one stored row of a monitored metric.</summary>
    Row = 1,

    /// <summary>Create the metric's model from <see cref="ModelRequest.Arguments"/> (a <see cref="ModelDefinition"/> as JSON).</summary>
    DefineModel = 2,

    /// <summary>Forget the metric's model and delete its checkpoint.</summary>
    DeleteModel = 3,
}

/// <summary>
/// One entry of a model input message (storer or adapter → shard queue). Rows carry their value and
/// timestamp so that a runner never has to read the database in the common case; the database stays
/// the log a runner catches up from when it sees a gap in rowids.
/// </summary>
/// <param name="Kind">What to do.</param>
/// <param name="MetricUid">The metric (and model) uid.</param>
/// <param name="Rowid">The row's rowid for <see cref="ModelRequestKind.Row"/>; 0 otherwise.</param>
/// <param name="Timestamp">The row's timestamp (UTC) for rows; default otherwise.</param>
/// <param name="Value">The row's value for rows; 0 otherwise.</param>
/// <param name="CommandId">The command id for define/delete (echoed in the command result); null for rows.</param>
/// <param name="Arguments">For <see cref="ModelRequestKind.DefineModel"/>, the <see cref="ModelDefinition"/> JSON; null otherwise.</param>
public readonly record struct ModelRequest(
    ModelRequestKind Kind,
    string MetricUid,
    long Rowid,
    DateTime Timestamp,
    double Value,
    string? CommandId,
    string? Arguments)
{
    /// <summary>A row to score.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="rowid">Its rowid in <c>metric_data</c>.</param>
    /// <param name="timestamp">Its timestamp (UTC).</param>
    /// <param name="value">Its value.</param>
    /// <returns>The request.</returns>
    public static ModelRequest ForRow(string metricUid, long rowid, DateTime timestamp, double value) =>
        new(ModelRequestKind.Row, metricUid, rowid, timestamp, value, null, null);

    /// <summary>A defineModel command.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="commandId">Its id, echoed in the result.</param>
    /// <param name="definition">The model to build.</param>
    /// <returns>The request.</returns>
    public static ModelRequest Define(string metricUid, string commandId, ModelDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return new(ModelRequestKind.DefineModel, metricUid, 0, default, 0, commandId, definition.ToJson());
    }

    /// <summary>A deleteModel command.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="commandId">Its id, echoed in the result.</param>
    /// <returns>The request.</returns>
    public static ModelRequest Delete(string metricUid, string commandId) =>
        new(ModelRequestKind.DeleteModel, metricUid, 0, default, 0, commandId, null);
}
