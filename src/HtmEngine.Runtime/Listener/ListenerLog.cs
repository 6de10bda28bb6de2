using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Listener;

/// <summary>Log messages of the listener service; event ids 2900–2919 (next free: 2904).</summary>
internal static partial class ListenerLog
{
    [LoggerMessage(EventId = 2900, Level = LogLevel.Warning,
        Message = "Metric data queue {Queue} is missing; declaring it and publishing the batch of {Count} samples again")]
    public static partial void QueueMissing(ILogger logger, string queue, int count);

    [LoggerMessage(EventId = 2901, Level = LogLevel.Warning,
        Message = "Publishing {Count} samples to {Queue} failed (attempt {Attempt}); the listener holds its sockets and retries in {DelayMs} ms")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string queue, int count, int attempt, long delayMs);

    [LoggerMessage(EventId = 2902, Level = LogLevel.Information,
        Message = "Listener service publishes Graphite samples to queue {Queue}")]
    public static partial void Started(ILogger logger, string queue);

    [LoggerMessage(EventId = 2903, Level = LogLevel.Information,
        Message = "Listener service stopped: {Batches} batches ({Samples} samples) published to {Queue}")]
    public static partial void Stopped(ILogger logger, string queue, long batches, long samples);
}
