using System.Net;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Ingest;

/// <summary>Log messages of the Ingest project; event ids 1000–1099 (next free: 1009).</summary>
internal static partial class IngestLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Graphite listener on tcp://{EndPoint} (udp: {Udp})")]
    public static partial void ListenerStarted(ILogger logger, EndPoint endPoint, bool udp);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Graphite listener stopped: {Accepted} lines accepted, {Rejected} rejected, {Delivered} samples delivered, {Dropped} dropped")]
    public static partial void ListenerStopped(ILogger logger, long accepted, long rejected, long delivered, long dropped);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "{Count} Graphite line(s) rejected as {Reason} since the last report; latest from {Remote}: [{Line}]")]
    public static partial void LinesRejected(ILogger logger, long count, string reason, string remote, string line);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Graphite connection limit ({Limit}) reached; new clients wait in the backlog")]
    public static partial void ConnectionLimitReached(ILogger logger, int limit);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Graphite connection from {Remote} ended by a socket error ({Error})")]
    public static partial void ConnectionSocketError(ILogger logger, string remote, string error);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Metric sample sink failed; {Count} samples dropped")]
    public static partial void SinkFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Graphite connection from {Remote} failed")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string remote);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Graphite listener shutdown timed out; {Count} samples not delivered")]
    public static partial void ShutdownTimedOut(ILogger logger, long count);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Error, Message = "Graphite accept loop failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);
}
