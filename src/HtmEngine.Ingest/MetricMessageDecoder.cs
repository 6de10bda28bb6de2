using System.Text;

namespace HtmEngine.Ingest;

/// <summary>The samples of one metric data message and the lines that could not be parsed.</summary>
/// <param name="Samples">Accepted samples in message order.</param>
/// <param name="Rejected">Rejected lines (JSON bodies only) with their reasons.</param>
public sealed record DecodedMetricMessage(IReadOnlyList<ReceivedSample> Samples, IReadOnlyList<RejectedLine> Rejected);

/// <summary>A line of a JSON body that failed to parse.</summary>
/// <param name="Reason">Why.</param>
/// <param name="Line">The line.</param>
public readonly record struct RejectedLine(GraphiteRejectReason Reason, string Line);

/// <summary>
/// Decodes a metric data message in either format, chosen by content type: <see cref="SampleBatchCodec.ContentType"/>
/// (what this listener publishes) or JSON <c>plain</c> (<see cref="PlainMetricMessage"/>; also assumed when the
/// content type is missing, as the original sent none). JSON lines go through <see cref="GraphiteParser"/>, so a
/// message from another publisher is held to the same rules as a TCP line.
/// </summary>
public static class MetricMessageDecoder
{
    /// <summary>Decodes a body.</summary>
    /// <param name="contentType">The message's content type, or null.</param>
    /// <param name="body">The body.</param>
    /// <param name="nowSeconds">Substituted for <c>-1</c> timestamps in JSON lines.</param>
    /// <returns>The samples and the rejected lines.</returns>
    /// <exception cref="MetricMessageFormatException">The body is not a valid message of its type, or the content type is unknown.</exception>
    public static DecodedMetricMessage Decode(string? contentType, ReadOnlySpan<byte> body, long nowSeconds)
    {
        if (string.Equals(contentType, SampleBatchCodec.ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return new DecodedMetricMessage(SampleBatchCodec.Decode(body), []);
        }

        if (!string.IsNullOrEmpty(contentType) && !contentType.StartsWith(PlainMetricMessage.ContentType, StringComparison.OrdinalIgnoreCase))
        {
            throw new MetricMessageFormatException($"Metric data message: unknown content type \"{contentType}\".");
        }

        IReadOnlyList<string> lines = PlainMetricMessage.DecodeLines(body);
        var collector = new Collector(new List<ReceivedSample>(lines.Count), []);
        var state = new GraphiteParserState { NowSeconds = nowSeconds };
        foreach (string line in lines)
        {
            collector.Current = line;
            GraphiteParser.ParseLine(Encoding.UTF8.GetBytes(line), ref state, ref collector);
        }

        return new DecodedMetricMessage(collector.Samples, collector.Rejected);
    }

    private struct Collector(List<ReceivedSample> samples, List<RejectedLine> rejected) : IGraphiteLineHandler
    {
        public string Current { get; set; } = "";

        public readonly List<ReceivedSample> Samples => samples;

        public readonly List<RejectedLine> Rejected => rejected;

        public readonly void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds) =>
            samples.Add(new ReceivedSample(Encoding.UTF8.GetString(name), value, timestampSeconds));

        public readonly void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line) =>
            rejected.Add(new RejectedLine(reason, Current));
    }
}
