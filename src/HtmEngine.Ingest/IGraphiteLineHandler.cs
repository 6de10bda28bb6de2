namespace HtmEngine.Ingest;

/// <summary>
/// Receives the outcome of each line <see cref="GraphiteParser"/> consumes. Implement it on a struct and pass it by
/// <c>ref</c>: the parser is generic over the handler, so the calls are direct and can be inlined.
/// </summary>
/// <remarks>The spans are only valid during the call; copy what must outlive it.</remarks>
public interface IGraphiteLineHandler
{
    /// <summary>A well-formed sample.</summary>
    /// <param name="name">The metric name as UTF-8 bytes (validated UTF-8, tags kept as part of the name).</param>
    /// <param name="value">A finite value.</param>
    /// <param name="timestampSeconds">Whole seconds since the Unix epoch (fractions floored, <c>-1</c> already replaced by now).</param>
    void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds);

    /// <summary>A line that was skipped.</summary>
    /// <param name="reason">Why it was skipped.</param>
    /// <param name="line">The line, or for over-long lines a prefix of it, for diagnostics.</param>
    void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line);
}
