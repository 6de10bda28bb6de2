using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using HtmEngine.Ingest;

namespace HtmEngine.Benchmarks.Parsing;

/// <summary>
/// Graphite plaintext parsing of ~48-byte lines. One invocation parses <see cref="Lines"/> lines, so the reported
/// time is per line (lines/s = 1e9 / ns). The buffer is cut into 16 KiB segments, as a pipe would deliver it, so the
/// cross-segment path is included at its natural frequency; a second benchmark adds name interning.
/// </summary>
public class GraphiteParserBenchmark
{
    /// <summary>Lines per invocation.</summary>
    public const int Lines = 100_000;

    private ReadOnlySequence<byte> _input;
    private MetricNameTable _names = null!;

    /// <summary>Builds the input: 1,000 metric names, values with decimals, epoch-second timestamps.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var builder = new StringBuilder();
        var random = new Random(42);
        for (int i = 0; i < Lines; i++)
        {
            builder.Append("servers.web").Append((i % 1000).ToString("D3")).Append(".cpu.user ")
                .Append((random.Next(0, 100000) / 100.0).ToString("F2", System.Globalization.CultureInfo.InvariantCulture))
                .Append(' ').Append(1_700_000_000 + (i / 1000)).Append('\n');
        }

        byte[] data = Encoding.ASCII.GetBytes(builder.ToString());
        _input = Segmented(data, 16 * 1024);
        _names = new MetricNameTable();
        AverageLineLength = data.Length / (double)Lines;
    }

    /// <summary>Average line length in bytes including the newline (about 48).</summary>
    public double AverageLineLength { get; private set; }

    /// <summary>Parse only.</summary>
    /// <returns>The number of lines accepted.</returns>
    [Benchmark(OperationsPerInvoke = Lines, Baseline = true)]
    public int Parse()
    {
        var state = new GraphiteParserState();
        var handler = new SumHandler();
        var reader = new SequenceReader<byte>(_input);
        GraphiteParser.ParseLines(ref reader, ref state, ref handler);
        return handler.Accepted;
    }

    /// <summary>The parser as it was before the unframed fast path (<see cref="GraphiteParserBaseline"/>), for the ratio.</summary>
    /// <returns>The number of lines accepted.</returns>
    [Benchmark(OperationsPerInvoke = Lines)]
    public int ParseBefore()
    {
        var state = new GraphiteParserState();
        var handler = new SumHandler();
        var reader = new SequenceReader<byte>(_input);
        GraphiteParserBaseline.ParseLines(ref reader, ref state, ref handler);
        return handler.Accepted;
    }

    /// <summary>Parse and intern every name (what a listener connection does per line).</summary>
    /// <returns>The number of lines accepted.</returns>
    [Benchmark(OperationsPerInvoke = Lines)]
    public int ParseAndIntern()
    {
        var state = new GraphiteParserState();
        var handler = new InternHandler(_names);
        var reader = new SequenceReader<byte>(_input);
        GraphiteParser.ParseLines(ref reader, ref state, ref handler);
        return handler.Accepted;
    }

    private static ReadOnlySequence<byte> Segmented(byte[] data, int segmentSize)
    {
        Segment? first = null;
        Segment? last = null;
        for (int offset = 0; offset < data.Length; offset += segmentSize)
        {
            var memory = data.AsMemory(offset, Math.Min(segmentSize, data.Length - offset));
            last = last is null ? (first = new Segment(memory, 0)) : last.Append(memory);
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private struct SumHandler : IGraphiteLineHandler
    {
        public int Accepted;
        public double Sum;

        public void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds)
        {
            Accepted++;
            Sum += value + timestampSeconds + name.Length;
        }

        public void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line) => Sum -= 1;
    }

    private struct InternHandler(MetricNameTable names) : IGraphiteLineHandler
    {
        public int Accepted;
        public long Ids;

        public void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds)
        {
            Accepted++;
            Ids += names.GetOrAdd(name);
        }

        public void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line) => Ids--;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
