using System.Buffers;
using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HtmEngine.Ingest;

namespace HtmEngine.Tests.Property.Ingest;

/// <summary>One line without its newline (valid or not).</summary>
public sealed record LineCase(byte[] Bytes)
{
    public override string ToString() => Encoding.Latin1.GetString(Bytes).Replace("\t", "\\t").Replace("\r", "\\r");
}

/// <summary>A stream of lines and the places where it is cut into segments.</summary>
public sealed record StreamCase(byte[] Data, int[] Cuts)
{
    public override string ToString() => $"{Encoding.Latin1.GetString(Data).Replace("\n", "\\n")} cuts=[{string.Join(',', Cuts)}]";
}

public static class IngestArbitraries
{
    private static readonly char[] s_nameChars = "abcdefghijklmnopqrstuvwxyz0123456789._-;=".ToCharArray();

    private static Gen<string> Name =>
        from length in Gen.Choose(1, 40)
        from chars in Gen.ArrayOf(Gen.Elements(s_nameChars), length)
        from suffix in Gen.Elements("", "", "", ".ü", ";dc=eu;env=prod")
        select new string(chars) + suffix;

    private static Gen<string> Value => Gen.OneOf(
        Gen.Choose(-100000, 100000).Select(i => i.ToString(CultureInfo.InvariantCulture)),
        from i in Gen.Choose(-100000, 100000)
        from f in Gen.Choose(0, 999999)
        select i.ToString(CultureInfo.InvariantCulture) + "." + f.ToString(CultureInfo.InvariantCulture),
        from m in Gen.Choose(1, 9999)
        from e in Gen.Choose(-30, 30)
        from sep in Gen.Elements("e", "E", "e+")
        select m.ToString(CultureInfo.InvariantCulture) + sep + e.ToString(CultureInfo.InvariantCulture),
        Gen.Elements("+7", "5.", ".5", "-0", "0.1", "12345678901234567890", "3.14159265358979323846"));

    private static Gen<string> Timestamp => Gen.OneOf(
        Gen.Choose(1_000_000_000, 2_000_000_000).Select(i => i.ToString(CultureInfo.InvariantCulture)),
        Gen.Choose(1_000_000_000, 2_000_000_000).Select(i => i.ToString(CultureInfo.InvariantCulture) + ".75"),
        Gen.Elements("-1", "0", "1.7e9", "1700000000.5"));

    private static Gen<string> Blank => Gen.Elements(" ", " ", " ", "\t", "  ", " \t ");

    private static Gen<string> Edge => Gen.Elements("", "", "", " ", "\t", "\r");

    private static Gen<string> ValidLine =>
        from lead in Edge
        from name in Name
        from s1 in Blank
        from value in Value
        from s2 in Blank
        from ts in Timestamp
        from trail in Edge
        select lead + name + s1 + value + s2 + ts + trail;

    private static Gen<string> BadToken => Gen.Elements(
        "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "0x10", "1,5", "1_000", "now", "abc", "-", ".", "+", "e5",
        "-2", "-0.5", "1700000000000", "99999999999", "100000000000", "", "1 2", "1.2.3", "--1");

    private static Gen<string> InvalidLine => Gen.OneOf(
        from name in Name
        from value in Gen.OneOf(Value, BadToken)
        from ts in Gen.OneOf(Timestamp, BadToken)
        from extra in Gen.Elements("", "", " x", " 1 2")
        select name + " " + value + " " + ts + extra,
        from name in Name
        from value in Value
        select name + " " + value,
        Gen.Elements("", " ", "\t\r", "onlyname", new string('n', 300) + " 1 1700000000"));

    private static Gen<byte[]> LineBytes => Gen.Frequency(
        (3, ValidLine.Select(Encoding.UTF8.GetBytes)),
        (3, InvalidLine.Select(Encoding.UTF8.GetBytes)),
        (1, Name.Select(n => (byte[])[.. Encoding.UTF8.GetBytes(n), 0xC3, 0x28, .. " 1 1700000000"u8])),
        (1, Gen.Choose(65, 200).Select(n => Encoding.ASCII.GetBytes("long " + new string('7', n) + " 1700000000"))));

    public static Arbitrary<LineCase> Lines() => Arb.From(LineBytes.Select(b => new LineCase(b)));

    public static Arbitrary<StreamCase> Streams() => Arb.From(
        from count in Gen.Choose(1, 30)
        from lines in Gen.ArrayOf(LineBytes, count)
        from cutCount in Gen.Choose(0, 12)
        from cutSeeds in Gen.ArrayOf(Gen.Choose(0, int.MaxValue), cutCount)
        select MakeStream(lines, cutSeeds));

    private static StreamCase MakeStream(byte[][] lines, int[] cutSeeds)
    {
        var data = new List<byte>();
        foreach (byte[] line in lines)
        {
            data.AddRange(line);
            data.Add((byte)'\n');
        }

        int[] cuts = cutSeeds.Select(s => s % (data.Count + 1)).Order().ToArray();
        return new StreamCase([.. data], cuts);
    }
}

public class GraphiteParserProperties
{
    private const long Now = 1_700_000_000;
    private const int MaxLine = 128;
    private const int MaxName = 64;

    [Property(Arbitrary = new[] { typeof(IngestArbitraries) }, MaxTest = 2000)]
    public bool Fast_parser_agrees_with_a_string_split_reference(LineCase line)
    {
        var state = new GraphiteParserState(MaxLine, MaxName) { NowSeconds = Now };
        var recorder = new Recorder();
        GraphiteParser.ParseLine(line.Bytes, ref state, ref recorder);
        object expected = Reference(line.Bytes);
        object actual = recorder.Outcomes.Single();
        return expected.Equals(actual);
    }

    [Property(Arbitrary = new[] { typeof(IngestArbitraries) }, MaxTest = 500)]
    public bool Any_split_into_segments_parses_like_the_whole(StreamCase stream)
    {
        List<object> whole = Parse(new ReadOnlySequence<byte>(stream.Data));
        List<object> split = Parse(Segments(stream.Data, stream.Cuts));
        List<object> oneByOne = Parse(Segments(stream.Data, stream.Cuts), maxLines: 0);
        List<object> inThrees = Parse(Segments(stream.Data, stream.Cuts), maxLines: 3);
        return whole.SequenceEqual(split) && whole.SequenceEqual(oneByOne) && whole.SequenceEqual(inThrees)
            && whole.Count == stream.Data.Count(b => b == (byte)'\n');
    }

    [Property(Arbitrary = new[] { typeof(IngestArbitraries) }, MaxTest = 300)]
    public bool Every_prefix_of_a_valid_stream_consumes_only_whole_lines(StreamCase stream)
    {
        // A prefix cut inside a line must leave that line unconsumed; lines before it are consumed whole.
        for (int length = 0; length <= stream.Data.Length; length += 1 + (stream.Data.Length / 40))
        {
            ReadOnlyMemory<byte> prefix = stream.Data.AsMemory(0, length);
            int lastNewline = prefix.Span.LastIndexOf((byte)'\n');
            var state = new GraphiteParserState(MaxLine, MaxName) { NowSeconds = Now };
            var recorder = new Recorder();
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(prefix));
            GraphiteParser.ParseLines(ref reader, ref state, ref recorder);
            if (state.IsDiscarding)
            {
                continue; // an over-long line is consumed as it arrives, by design
            }

            if (reader.Consumed != lastNewline + 1)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>maxLines: -1 = ParseLines, 0 = a TryParseLine loop, n = ParseLines n lines at a time.</summary>
    private static List<object> Parse(ReadOnlySequence<byte> input, int maxLines = -1)
    {
        var state = new GraphiteParserState(MaxLine, MaxName) { NowSeconds = Now };
        var recorder = new Recorder();
        var reader = new SequenceReader<byte>(input);
        if (maxLines < 0)
        {
            GraphiteParser.ParseLines(ref reader, ref state, ref recorder);
        }
        else if (maxLines == 0)
        {
            while (GraphiteParser.TryParseLine(ref reader, ref state, ref recorder))
            {
            }
        }
        else
        {
            while (GraphiteParser.ParseLines(ref reader, ref state, ref recorder, maxLines) == maxLines)
            {
            }
        }

        GraphiteParser.Complete(ref reader, ref state, ref recorder);
        return recorder.Outcomes;
    }

    /// <summary>The obvious, slow version of the rules, written independently of the parser.</summary>
    private static object Reference(byte[] line)
    {
        if (line.Length > MaxLine)
        {
            return GraphiteRejectReason.LineTooLong;
        }

        // Latin-1 keeps one char per byte, so field bytes can be recovered exactly.
        string text = Encoding.Latin1.GetString(line);
        string[] fields = text.Split([' ', '\t', '\r', '\v', '\f'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0)
        {
            return GraphiteRejectReason.EmptyLine;
        }

        if (fields.Length < 3)
        {
            return GraphiteRejectReason.TooFewFields;
        }

        if (fields.Length > 3)
        {
            return GraphiteRejectReason.TooManyFields;
        }

        byte[] nameBytes = Encoding.Latin1.GetBytes(fields[0]);
        if (nameBytes.Length > MaxName)
        {
            return GraphiteRejectReason.NameTooLong;
        }

        string name;
        try
        {
            name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(nameBytes);
        }
        catch (DecoderFallbackException)
        {
            return GraphiteRejectReason.InvalidUtf8;
        }

        if (!double.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            string bare = fields[1].TrimStart('+', '-').ToLowerInvariant();
            return bare is "inf" or "infinity" or "nan" && fields[1].Length - bare.Length <= 1
                ? GraphiteRejectReason.NotFinite
                : GraphiteRejectReason.BadValue;
        }

        if (!double.IsFinite(value))
        {
            return GraphiteRejectReason.NotFinite;
        }

        if (!double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !double.IsFinite(seconds))
        {
            return GraphiteRejectReason.BadTimestamp;
        }

        long timestamp;
        if (Math.Truncate(seconds) == -1)
        {
            timestamp = Now;
        }
        else if (seconds < 0 || seconds >= 1e11)
        {
            return GraphiteRejectReason.BadTimestamp;
        }
        else
        {
            timestamp = (long)Math.Floor(seconds);
        }

        return (name, value, timestamp);
    }

    private static ReadOnlySequence<byte> Segments(byte[] data, int[] cuts)
    {
        Segment? first = null;
        Segment? last = null;
        int previous = 0;
        foreach (int cut in cuts.Append(data.Length))
        {
            var memory = data.AsMemory(previous, cut - previous);
            last = last is null ? (first = new Segment(memory, 0)) : last.Append(memory);
            previous = cut;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
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

    private struct Recorder : IGraphiteLineHandler
    {
        public Recorder()
        {
        }

        public List<object> Outcomes { get; } = [];

        public readonly void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds) =>
            Outcomes.Add((Encoding.UTF8.GetString(name), value, timestampSeconds));

        public readonly void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line) => Outcomes.Add(reason);
    }
}
