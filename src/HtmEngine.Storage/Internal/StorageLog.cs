using Microsoft.Extensions.Logging;

namespace HtmEngine.Storage.Internal;

/// <summary>Log messages of the repository; event ids 3000–3099 are reserved for Storage.</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Repository {Target}: transient error on attempt {Attempt} ({Reason}); retrying in {DelayMs} ms")]
    public static partial void RetryingTransient(ILogger logger, string target, int attempt, string reason, long delayMs);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Repository {Target}: applied schema migration {Version} ({Description})")]
    public static partial void MigrationApplied(ILogger logger, string target, int version, string description);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Repository {Target}: created the database")]
    public static partial void DatabaseCreated(ILogger logger, string target);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Repository {Target}: schema at version {Version}")]
    public static partial void SchemaReady(ILogger logger, string target, int version);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Metric {Uid}: {Rejected} of {Total} samples not stored (duplicates {Duplicates}, out of order {OutOfOrder}, invalid {Invalid}, metric in ERROR {InError})")]
    public static partial void SamplesRejected(ILogger logger, string uid, int rejected, int total, int duplicates, int outOfOrder, int invalid, int inError);
}
