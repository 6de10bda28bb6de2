using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Storer;

/// <summary>Log messages of the metric storer (event ids 5100–5199).</summary>
internal static partial class StorerLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Storer consuming {Queue}; {Shards} model shard queue(s) {Prefix}shard.N; {Cached} metric name(s) cached")]
    public static partial void Started(ILogger logger, string queue, int shards, string prefix, int cached);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Message {MessageId} on {Queue} cannot be decoded ({Reason}); dead-lettered")]
    public static partial void Poison(ILogger logger, string? messageId, string queue, string reason);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Message {MessageId}: {Count} line(s) rejected; first as {Reason}: [{Line}]")]
    public static partial void BadLines(ILogger logger, string? messageId, int count, string reason, string line);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Storer: {Stage} failed transiently (attempt {Attempt}); retrying the message in place in {DelayMs} ms")]
    public static partial void Retrying(ILogger logger, Exception exception, string stage, int attempt, long delayMs);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Error, Message = "Metric {Name}: {Count} sample(s) not stored ({Reason})")]
    public static partial void MetricFailed(ILogger logger, string name, int count, string reason);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "Metric {Name} ({Uid}) created by the storer")]
    public static partial void MetricCreated(ILogger logger, string name, string uid);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Information, Message = "Metric {Uid} reached rowid {Rowid}; activating its model")]
    public static partial void Activating(ILogger logger, string uid, long rowid);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Debug, Message = "Metric {Uid} not activated yet: {Reason}")]
    public static partial void ActivationDeferred(ILogger logger, string uid, string reason);

    [LoggerMessage(EventId = 5109, Level = LogLevel.Warning, Message = "Metric {Uid}: activation failed; it is tried again with the next data")]
    public static partial void ActivationFailed(ILogger logger, Exception exception, string uid);

    [LoggerMessage(EventId = 5110, Level = LogLevel.Information, Message = "Storer stopped: {Messages} message(s), {Stored} sample(s) stored, {Rejected} rejected, {Forwarded} row(s) forwarded")]
    public static partial void Stopped(ILogger logger, long messages, long stored, long rejected, long forwarded);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Information, Message = "Metric {Name}: uid {Uid} no longer exists; resolving the name again")]
    public static partial void MetricVanished(ILogger logger, string name, string uid);

    [LoggerMessage(EventId = 5112, Level = LogLevel.Error, Message = "Storer consumer of {Queue} ended")]
    public static partial void ConsumerEnded(ILogger logger, Exception exception, string queue);
}
