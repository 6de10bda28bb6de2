using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Anomaly;

/// <summary>The anomaly service's log messages (event ids 7000–7099).</summary>
internal static partial class AnomalyLog
{
    [LoggerMessage(EventId = 7000, Level = LogLevel.Information,
        Message = "Anomaly service consuming {Queue}, publishing to exchange {Exchange} (min sample {MinSampleSize}, refresh {RefreshRate}, sample {SampleSize})")]
    public static partial void Started(ILogger logger, string queue, string exchange, int minSampleSize, int refreshRate, int sampleSize);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Error,
        Message = "Result message {MessageId} from {Queue} rejected: {Reason}")]
    public static partial void MessageRejected(ILogger logger, string? messageId, string queue, string reason);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning,
        Message = "{Count} result(s) for metric {Uid} dropped: {Reason}")]
    public static partial void ResultsDropped(ILogger logger, int count, string uid, string reason);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error,
        Message = "Model of metric {Uid} failed at row {Rowid} (status {Status}): {Error}; metric set to ERROR")]
    public static partial void InferenceFailed(ILogger logger, string uid, long rowid, int status, string error);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information,
        Message = "Metric {Uid}: results start at row {First} but the likelihood covers up to {Covered} and rows in between exist; {Action}")]
    public static partial void Gap(ILogger logger, string uid, long first, long covered, string action);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Information,
        Message = "Metric {Uid}: defineModel {CommandId} succeeded; status {From} -> ACTIVE")]
    public static partial void ModelActivated(ILogger logger, string uid, string? commandId, string from);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning,
        Message = "Metric {Uid}: defineModel {CommandId} succeeded but the metric is {Status}, not CREATE_PENDING (redelivery or race); status unchanged")]
    public static partial void DefineNotPending(ILogger logger, string uid, string? commandId, string status);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Error,
        Message = "Metric {Uid}: {Method} {CommandId} failed (status {Status}): {Error}")]
    public static partial void CommandFailed(ILogger logger, string uid, string? method, string? commandId, int status, string error);

    [LoggerMessage(EventId = 7008, Level = LogLevel.Information,
        Message = "Metric {Uid}: deleteModel {CommandId} finished with status {Status}")]
    public static partial void ModelDeleted(ILogger logger, string uid, string? commandId, int status);

    [LoggerMessage(EventId = 7009, Level = LogLevel.Warning,
        Message = "Metric {Uid}: command result {Method} {CommandId} ignored: {Reason}")]
    public static partial void CommandIgnored(ILogger logger, string uid, string? method, string? commandId, string reason);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Debug,
        Message = "Metric {Uid}: likelihood state changed under us (another anomaly service?); recomputing")]
    public static partial void Conflict(ILogger logger, string uid);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information,
        Message = "Anomaly service stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Warning,
        Message = "A batch of {Messages} result messages failed ({Reason}); processing them one at a time")]
    public static partial void BatchFailed(ILogger logger, Exception exception, int messages, string reason);

    [LoggerMessage(EventId = 7013, Level = LogLevel.Warning,
        Message = "Result message {MessageId} failed ({Reason}); it will be retried")]
    public static partial void MessageFailed(ILogger logger, Exception exception, string? messageId, string reason);

    [LoggerMessage(EventId = 7014, Level = LogLevel.Warning,
        Message = "The database is unreachable (outage {Outage} for result message {MessageId}: {Reason}); the message is processed again in place in {DelayMs} ms, not counted as a failure")]
    public static partial void StorageUnavailable(ILogger logger, string? messageId, int outage, long delayMs, string reason);

    [LoggerMessage(EventId = 7015, Level = LogLevel.Warning,
        Message = "The database is unreachable (outage {Outage} for a batch of {Messages} result messages from {MessageId}: {Reason}); the batch is processed again in place in {DelayMs} ms, not counted as a failure")]
    public static partial void BatchStorageUnavailable(ILogger logger, int messages, string? messageId, int outage, long delayMs, string reason);
}
