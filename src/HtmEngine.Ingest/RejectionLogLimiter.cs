using System.Text;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Ingest;

/// <summary>
/// Logs rejected lines at a bounded rate: at most one line per reason per interval, carrying the number of
/// rejections since the previous report and the latest offending line. Between reports a rejection costs two
/// interlocked operations and no formatting.
/// </summary>
internal sealed class RejectionLogLimiter
{
    private const int MaxLoggedLineLength = 200;

    private readonly ILogger _logger;
    private readonly long _intervalMs;
    private readonly long[] _pending = new long[GraphiteRejectReasons.Count];
    private readonly long[] _nextReportMs = new long[GraphiteRejectReasons.Count];

    public RejectionLogLimiter(ILogger logger, TimeSpan interval)
    {
        _logger = logger;
        _intervalMs = (long)interval.TotalMilliseconds;
    }

    public void Report(GraphiteRejectReason reason, ReadOnlySpan<byte> line, string remote)
    {
        int index = (int)reason;
        Interlocked.Increment(ref _pending[index]);
        long now = Environment.TickCount64;
        long next = Volatile.Read(ref _nextReportMs[index]);
        if (now < next || !_logger.IsEnabled(LogLevel.Warning)
            || Interlocked.CompareExchange(ref _nextReportMs[index], now + _intervalMs, next) != next)
        {
            return;
        }

        long count = Interlocked.Exchange(ref _pending[index], 0);
        IngestLog.LinesRejected(_logger, count, reason.ToCounterName(), remote, Printable(line));
    }

    /// <summary>Logs what is pending for every reason (at shutdown).</summary>
    public void FlushPending()
    {
        for (int i = 0; i < _pending.Length; i++)
        {
            long count = Interlocked.Exchange(ref _pending[i], 0);
            if (count > 0)
            {
                IngestLog.LinesRejected(_logger, count, ((GraphiteRejectReason)i).ToCounterName(), "-", "");
            }
        }
    }

    /// <summary>The line as text, cut and with control and non-ASCII bytes escaped, so a log line stays one line.</summary>
    internal static string Printable(ReadOnlySpan<byte> line)
    {
        var builder = new StringBuilder(Math.Min(line.Length, MaxLoggedLineLength) + 8);
        for (int i = 0; i < line.Length && i < MaxLoggedLineLength; i++)
        {
            byte b = line[i];
            if (b is >= 0x20 and < 0x7F)
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append("\\x").Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        if (line.Length > MaxLoggedLineLength)
        {
            builder.Append('…');
        }

        return builder.ToString();
    }
}
