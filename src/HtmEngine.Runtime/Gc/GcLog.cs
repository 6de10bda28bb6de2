using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Gc;

/// <summary>The garbage collector's log messages (event ids 7100–7149).</summary>
internal static partial class GcLog
{
    [LoggerMessage(EventId = 7100, Level = LogLevel.Information,
        Message = "Metric garbage collector: deleting rows older than {ThresholdDays} day(s) every {IntervalSeconds} s, {BatchSize} per transaction, keeping the newest {Keep} scored rows of each metric")]
    public static partial void Started(ILogger logger, double thresholdDays, double intervalSeconds, int batchSize, int keep);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information,
        Message = "Metric garbage collector: deleted {Rows} row(s) older than {Threshold:o} from {Metrics} metric(s) in {ElapsedMs} ms")]
    public static partial void PassDone(ILogger logger, long rows, DateTime threshold, int metrics, long elapsedMs);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Error,
        Message = "Metric garbage collector: pass failed at metric {Uid}; trying again next pass")]
    public static partial void PassFailed(ILogger logger, Exception exception, string? uid);
}
