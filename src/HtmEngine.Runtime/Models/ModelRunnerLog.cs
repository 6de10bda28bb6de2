using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Models;

/// <summary>The model runners' log messages (event ids 2100–2149).</summary>
internal static partial class ModelRunnerLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information,
        Message = "Model runners started: shards {Shards} of {ShardCount}, memory budget {BudgetMb} MiB, checkpoints in {Root}")]
    public static partial void Started(ILogger logger, string shards, int shardCount, long budgetMb, string root);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information,
        Message = "Shard {Shard}: start-up recovery looked at {Metrics} metric(s) and scored {Rows} stored row(s) that were behind their checkpoints")]
    public static partial void Recovered(ILogger logger, int shard, int metrics, long rows);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning,
        Message = "Checkpoint file {File} of metric {Uid} is unusable ({Reason}); it was moved aside and the model is rebuilt by replay from the database")]
    public static partial void CorruptCheckpoint(ILogger logger, string file, string uid, string reason);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning,
        Message = "Leftover temporary checkpoint file {File} (a save was interrupted); deleted, the model's previous checkpoint stays in force")]
    public static partial void LeftoverTemp(ILogger logger, string file);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning,
        Message = "Shard queue {Queue}: message {MessageId} rejected: {Reason}")]
    public static partial void RejectedMessage(ILogger logger, string queue, string? messageId, string reason);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning,
        Message = "Shard {Shard}: message {MessageId} failed ({Reason}); the models it touched are dropped from memory and the message is retried")]
    public static partial void MessageFailed(ILogger logger, Exception exception, int shard, string? messageId, string reason);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning,
        Message = "Metric {Uid}: {Count} row(s) before rowid {Rowid} are missing from metric_data (deleted?); scoring continues after them")]
    public static partial void RowsMissing(ILogger logger, string uid, long count, long rowid);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning,
        Message = "Metric {Uid}: {Command} failed with status {Status}: {Error}")]
    public static partial void CommandFailed(ILogger logger, string uid, string command, int status, string error);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning,
        Message = "Metric {Uid}: row {Rowid} (and any later rows of the same message) has no model: no checkpoint and no definition in metric.model_params")]
    public static partial void NoModel(ILogger logger, string uid, long rowid);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Information,
        Message = "Model runners stopped: {Checkpointed} hot model(s) checkpointed")]
    public static partial void Stopped(ILogger logger, int checkpointed);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Error,
        Message = "Shard {Shard}: start-up recovery of metric {Uid} failed; it will be retried when its next row arrives")]
    public static partial void RecoveryFailed(ILogger logger, Exception exception, int shard, string uid);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Information,
        Message = "Metric {Uid}: model defined ({Definition}); catching up {Rows} stored row(s)")]
    public static partial void Defined(ILogger logger, string uid, string definition, long rows);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Information, Message = "Metric {Uid}: model deleted")]
    public static partial void Deleted(ILogger logger, string uid);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Warning,
        Message = "Shard {Shard}: the database is unreachable (outage {Outage} for message {MessageId}: {Reason}); the message is handled again in place in {DelayMs} ms, not counted as a failure")]
    public static partial void StorageUnavailable(ILogger logger, int shard, string? messageId, int outage, long delayMs, string reason);
}
