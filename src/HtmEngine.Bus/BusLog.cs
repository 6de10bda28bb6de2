using Microsoft.Extensions.Logging;

namespace HtmEngine.Bus;

/// <summary>The bus's log messages (event ids 6000–6099).</summary>
internal static partial class BusLog
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning,
        Message = "Message {MessageId} from queue {Queue} failed {Attempts} time(s); moved to {DeadLetterQueue}")]
    public static partial void DeadLettered(ILogger logger, string? messageId, string queue, int attempts, string deadLetterQueue);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning,
        Message = "Handler for queue {Queue} failed on message {MessageId} (attempt {Attempt}); requeued")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string queue, string? messageId, int attempt);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning,
        Message = "Publish to {Destination} interrupted ({Reason}); publishing the batch again in {DelayMs} ms")]
    public static partial void PublishRetry(ILogger logger, string destination, string reason, int delayMs);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning,
        Message = "Cannot connect to RabbitMQ at {Host}:{Port} ({Reason}); retrying in {DelayMs} ms")]
    public static partial void ConnectRetry(ILogger logger, string host, int port, string reason, int delayMs);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Error,
        Message = "Consumer of queue {Queue} was cancelled by the broker")]
    public static partial void ConsumerCancelled(ILogger logger, string queue);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning,
        Message = "Settling message {MessageId} of queue {Queue} failed ({Reason}); the broker will redeliver it")]
    public static partial void SettleFailed(ILogger logger, string? messageId, string queue, string reason);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Information, Message = "RabbitMQ connection recovered")]
    public static partial void Recovered(ILogger logger);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Warning, Message = "RabbitMQ connection lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string reason);
}
