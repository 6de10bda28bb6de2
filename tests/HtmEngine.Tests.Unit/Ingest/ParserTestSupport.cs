using System.Buffers;
using System.Text;
using HtmEngine.Ingest;

namespace HtmEngine.Tests.Unit.Ingest;

/// <summary>Builds multi-segment sequences and records what the parser reports.</summary>
internal static class ParserTestSupport
{
    public static ReadOnlySequence<byte> Segments(params byte[][] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(parts[0], 0);
        Segment last = first;
        for (int i = 1; i < parts.Length; i++)
        {
            last = last.Append(parts[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        var parts = new List<byte[]>();
        int previous = 0;
        foreach (int cut in cuts)
        {
            parts.Add(data[previous..cut]);
            previous = cut;
        }

        parts.Add(data[previous..]);
        return Segments([.. parts]);
    }

    public static Recorder ParseAll(ReadOnlySequence<byte> input, long now = 1_700_000_000, int maxLine = 4096, int maxName = 255, bool complete = true)
    {
        var state = new GraphiteParserState(maxLine, maxName) { NowSeconds = now };
        var recorder = new Recorder();
        var reader = new SequenceReader<byte>(input);
        GraphiteParser.ParseLines(ref reader, ref state, ref recorder);
        if (complete)
        {
            GraphiteParser.Complete(ref reader, ref state, ref recorder);
        }

        return recorder;
    }

    public static Recorder ParseAll(string text, long now = 1_700_000_000, int maxLine = 4096, int maxName = 255) =>
        ParseAll(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)), now, maxLine, maxName);

    public sealed class Segment : ReadOnlySequenceSegment<byte>
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

    /// <summary>A struct handler backed by lists (the lists allocate; the parser under it must not).</summary>
    public struct Recorder : IGraphiteLineHandler
    {
        public Recorder()
        {
        }

        public List<(string Name, double Value, long Timestamp)> Samples { get; } = [];

        public List<GraphiteRejectReason> Rejections { get; } = [];

        public readonly void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds) =>
            Samples.Add((Encoding.UTF8.GetString(name), value, timestampSeconds));

        public readonly void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line) => Rejections.Add(reason);
    }

    /// <summary>Counts only, so allocation can be measured.</summary>
    public struct Counter : IGraphiteLineHandler
    {
        public int Accepted;
        public int Rejected;
        public double Sum;

        public void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds)
        {
            Accepted++;
            Sum += value + name.Length;
        }

        public void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line) => Rejected++;
    }
}
