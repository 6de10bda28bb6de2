using System.Buffers;
using System.Text;
using HtmEngine.Ingest;
using static HtmEngine.Tests.Unit.Ingest.ParserTestSupport;

namespace HtmEngine.Tests.Unit.Ingest;

public class GraphiteParserTests
{
    private const long Now = 1_700_000_000;

    [Theory]
    [InlineData("a.b 42 1700000123\n", "a.b", 42.0, 1700000123)]
    [InlineData("a.b\t42\t1700000123\n", "a.b", 42.0, 1700000123)]
    [InlineData("a.b   42  \t 1700000123\n", "a.b", 42.0, 1700000123)]
    [InlineData("a.b 42 1700000123\r\n", "a.b", 42.0, 1700000123)]
    [InlineData("   a.b 42 1700000123   \n", "a.b", 42.0, 1700000123)]
    [InlineData("a -3.25 1700000123\n", "a", -3.25, 1700000123)]
    [InlineData("a 1.5e3 1700000123\n", "a", 1500.0, 1700000123)]
    [InlineData("a 2E-3 1700000123\n", "a", 0.002, 1700000123)]
    [InlineData("a +7 1700000123\n", "a", 7.0, 1700000123)]
    [InlineData("a 5. 1700000123\n", "a", 5.0, 1700000123)]
    [InlineData("a .5 1700000123\n", "a", 0.5, 1700000123)]
    [InlineData("a 0.1 1700000123\n", "a", 0.1, 1700000123)]
    [InlineData("a 1234567890.12345 1700000123\n", "a", 1234567890.12345, 1700000123)]
    [InlineData("a 12345678901234567890 1700000123\n", "a", 12345678901234567890.0, 1700000123)]
    [InlineData("a 1 1700000123.75\n", "a", 1.0, 1700000123)]
    [InlineData("a 1 1.7000001e9\n", "a", 1.0, 1700000100)]
    [InlineData("a 1 -1\n", "a", 1.0, Now)]
    [InlineData("a 1 -1.5\n", "a", 1.0, Now)]
    [InlineData("a 1 0\n", "a", 1.0, 0)]
    [InlineData("a;env=prod;dc=eu 1 1700000123\n", "a;env=prod;dc=eu", 1.0, 1700000123)]
    [InlineData("a;env 1 1700000123\n", "a;env", 1.0, 1700000123)]
    [InlineData("a.ütf8 1 1700000123\n", "a.ütf8", 1.0, 1700000123)]
    [InlineData("p.odd/ch*r(s) 1 1700000123\n", "p.odd/ch*r(s)", 1.0, 1700000123)]
    [InlineData("a 1 12345678\n", "a", 1.0, 12345678)]
    [InlineData("a 1 1700000123\r\r\n", "a", 1.0, 1700000123)]
    [InlineData("a 1 123456789\n", "a", 1.0, 123456789)]
    [InlineData("a 1 99999999999\n", "a", 1.0, 99999999999)]
    [InlineData("a 1 00000001\n", "a", 1.0, 1)]
    [InlineData("a 1 1234567\n", "a", 1.0, 1234567)]
    [InlineData("a\u0001b 1 1700000123\n", "a\u0001b", 1.0, 1700000123)]
    [InlineData("a 999999999999999 1700000123\n", "a", 999999999999999.0, 1700000123)]
    [InlineData("a -0.000000000000001 1700000123\n", "a", -1e-15, 1700000123)]
    public void Accepts_what_carbon_accepts(string line, string name, double value, long timestamp)
    {
        Recorder r = ParseAll(line, Now);
        Assert.Empty(r.Rejections);
        (string Name, double Value, long Timestamp) sample = Assert.Single(r.Samples);
        Assert.Equal(name, sample.Name);
        Assert.Equal(value, sample.Value);
        Assert.Equal(timestamp, sample.Timestamp);
    }

    [Theory]
    [InlineData("\n", GraphiteRejectReason.EmptyLine)]
    [InlineData(" \t \r\n", GraphiteRejectReason.EmptyLine)]
    [InlineData("a\n", GraphiteRejectReason.TooFewFields)]
    [InlineData("a 1\n", GraphiteRejectReason.TooFewFields)]
    [InlineData("a 1 \n", GraphiteRejectReason.TooFewFields)]
    [InlineData("a 1 2 3\n", GraphiteRejectReason.TooManyFields)]
    [InlineData("a 1 now\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 0x10 1700000123\n", GraphiteRejectReason.BadValue)]
    [InlineData("a 1,5 1700000123\n", GraphiteRejectReason.BadValue)]
    [InlineData("a 1_000 1700000123\n", GraphiteRejectReason.BadValue)]
    [InlineData("a abc 1700000123\n", GraphiteRejectReason.BadValue)]
    [InlineData("a - 1700000123\n", GraphiteRejectReason.BadValue)]
    [InlineData("a . 1700000123\n", GraphiteRejectReason.BadValue)]
    [InlineData("a nan 1700000123\n", GraphiteRejectReason.NotFinite)]
    [InlineData("a NaN 1700000123\n", GraphiteRejectReason.NotFinite)]
    [InlineData("a inf 1700000123\n", GraphiteRejectReason.NotFinite)]
    [InlineData("a -Infinity 1700000123\n", GraphiteRejectReason.NotFinite)]
    [InlineData("a 1e400 1700000123\n", GraphiteRejectReason.NotFinite)]
    [InlineData("a 1 1700000123000\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 -2\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 -0.5\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 nan\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 inf\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 0x10\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 12345678x\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 123456789012\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1 100000000000\n", GraphiteRejectReason.BadTimestamp)]
    [InlineData("a 1.2.3 1700000123\n", GraphiteRejectReason.BadValue)]
    public void Rejects_with_the_right_reason(string line, GraphiteRejectReason reason)
    {
        Recorder r = ParseAll(line, Now);
        Assert.Empty(r.Samples);
        Assert.Equal(reason, Assert.Single(r.Rejections));
    }

    [Fact]
    public void Lines_back_to_back_in_one_buffer_do_not_run_into_each_other()
    {
        // Short timestamps: the eight bytes after one line's timestamp start belong to the next line.
        Recorder r = ParseAll("a 1 5\nb 2 12345678\n9 3 4\nc 4 1234567\n89 5 6\r\nd;t=1 6 7\n", Now);
        Assert.Empty(r.Rejections);
        Assert.Equal(
            [("a", 1.0, 5L), ("b", 2.0, 12345678L), ("9", 3.0, 4L), ("c", 4.0, 1234567L), ("89", 5.0, 6L), ("d;t=1", 6.0, 7L)],
            r.Samples);
    }

    [Fact]
    public void Rejects_a_name_longer_than_the_limit()
    {
        Recorder r = ParseAll(new string('n', 33) + " 1 1700000123\n" + new string('n', 32) + " 1 1700000123\n", Now, maxLine: 100, maxName: 32);
        Assert.Equal(GraphiteRejectReason.NameTooLong, Assert.Single(r.Rejections));
        Assert.Single(r.Samples);
    }

    [Fact]
    public void Rejects_a_name_that_is_not_utf8()
    {
        byte[] line = [(byte)'a', 0xC3, 0x28, (byte)' ', (byte)'1', (byte)' ', (byte)'2', (byte)'\n'];
        Recorder r = ParseAll(new ReadOnlySequence<byte>(line));
        Assert.Equal(GraphiteRejectReason.InvalidUtf8, Assert.Single(r.Rejections));
    }

    [Fact]
    public void Rejects_an_unterminated_tail_at_the_end_of_the_stream()
    {
        Recorder r = ParseAll("a 1 1700000123\na 2 170000", Now);
        Assert.Single(r.Samples);
        Assert.Equal(GraphiteRejectReason.Unterminated, Assert.Single(r.Rejections));
    }

    [Fact]
    public void Rejects_a_line_longer_than_the_limit_and_keeps_going()
    {
        string longLine = "a " + new string('1', 200) + " 1700000123\n";
        Recorder r = ParseAll("x 1 1700000123\n" + longLine + "y 2 1700000123\n", Now, maxLine: 64, maxName: 32);
        Assert.Equal(GraphiteRejectReason.LineTooLong, Assert.Single(r.Rejections));
        Assert.Equal(["x", "y"], r.Samples.Select(s => s.Name));
    }

    [Fact]
    public void A_line_of_exactly_the_maximum_length_is_parsed()
    {
        string line = "a " + new string('1', 64 - 13) + " 1700000123";
        Assert.Equal(64, line.Length);
        Recorder r = ParseAll(line + "\n", Now, maxLine: 64, maxName: 32);
        Assert.Empty(r.Rejections);
        Assert.Single(r.Samples);
        Recorder r2 = ParseAll(line + "0\n", Now, maxLine: 64, maxName: 32);
        Assert.Equal(GraphiteRejectReason.LineTooLong, Assert.Single(r2.Rejections));
    }

    [Fact]
    public void An_over_long_line_arriving_in_pieces_is_skipped_without_being_buffered()
    {
        var state = new GraphiteParserState(64, 32) { NowSeconds = Now };
        var recorder = new Recorder();
        byte[] chunk = Encoding.ASCII.GetBytes(new string('z', 50));

        // First a chunk under the limit: need more, nothing consumed.
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(chunk));
        Assert.False(GraphiteParser.TryParseLine(ref reader, ref state, ref recorder));
        Assert.Equal(0, reader.Consumed);

        // Over the limit: reported once, everything consumed, then each further chunk is consumed whole.
        reader = new SequenceReader<byte>(Segments(chunk, chunk));
        Assert.False(GraphiteParser.TryParseLine(ref reader, ref state, ref recorder));
        Assert.Equal(100, reader.Consumed);
        Assert.True(state.IsDiscarding);
        for (int i = 0; i < 1000; i++)
        {
            reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(chunk));
            Assert.False(GraphiteParser.TryParseLine(ref reader, ref state, ref recorder));
            Assert.Equal(chunk.Length, reader.Consumed);
        }

        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("zzz\nb 1 1700000123\n")));
        GraphiteParser.ParseLines(ref reader, ref state, ref recorder);
        Assert.False(state.IsDiscarding);
        Assert.Equal(GraphiteRejectReason.LineTooLong, Assert.Single(recorder.Rejections));
        Assert.Equal("b", Assert.Single(recorder.Samples).Name);
    }

    [Fact]
    public void Every_prefix_of_a_valid_line_needs_more_data_and_consumes_nothing()
    {
        byte[] line = Encoding.UTF8.GetBytes("servers.web-01.cpu;dc=eu 12.75 1700000123\r\n");
        for (int length = 0; length < line.Length; length++)
        {
            for (int cut = 0; cut <= length; cut++)
            {
                var state = new GraphiteParserState();
                var recorder = new Recorder();
                var reader = new SequenceReader<byte>(Split(line[..length], cut));
                Assert.False(GraphiteParser.TryParseLine(ref reader, ref state, ref recorder));
                Assert.Equal(0, reader.Consumed);
                Assert.Empty(recorder.Samples);
                Assert.Empty(recorder.Rejections);
            }
        }
    }

    [Fact]
    public void Every_two_way_split_parses_like_the_whole()
    {
        byte[] data = Encoding.UTF8.GetBytes("a.b 1 1700000001\nc;t=v\t-2.5e1 1700000002.9\r\n\nbad line\nd 3 -1\n");
        Recorder whole = ParseAll(new ReadOnlySequence<byte>(data), Now);
        Assert.Equal(3, whole.Samples.Count);
        Assert.Equal(2, whole.Rejections.Count);
        for (int cut = 0; cut <= data.Length; cut++)
        {
            for (int cut2 = cut; cut2 <= data.Length; cut2 += 7)
            {
                Recorder split = ParseAll(Split(data, cut, cut2), Now);
                Assert.Equal(whole.Samples, split.Samples);
                Assert.Equal(whole.Rejections, split.Rejections);
            }
        }
    }

    [Fact]
    public void Parsing_allocates_nothing_per_line_even_across_segments()
    {
        var builder = new StringBuilder();
        for (int i = 0; i < 2000; i++)
        {
            builder.Append("servers.host").Append(i % 50).Append(".cpu ").Append(i * 0.25).Append(" 17000").Append(i % 10).Append("0000\n");
            if (i % 100 == 0)
            {
                builder.Append("a ").Append('9', 300).Append(" 1700000000\n");
                builder.Append("bad\n");
            }
        }

        byte[] data = Encoding.ASCII.GetBytes(builder.ToString());
        var cuts = new List<int>();
        for (int c = 13; c < data.Length; c += 29)
        {
            cuts.Add(c);
        }

        ReadOnlySequence<byte> input = Split(data, [.. cuts]);
        Counter counter = Run(input);
        long before = GC.GetAllocatedBytesForCurrentThread();
        counter = Run(input);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(2000 + 20, counter.Accepted);
        Assert.Equal(20, counter.Rejected);
        Assert.Equal(0, allocated);

        static Counter Run(ReadOnlySequence<byte> input)
        {
            var state = new GraphiteParserState();
            var counter = new Counter();
            var reader = new SequenceReader<byte>(input);
            GraphiteParser.ParseLines(ref reader, ref state, ref counter);
            return counter;
        }
    }

    [Fact]
    public void Fast_decimal_path_matches_the_bcl()
    {
        var random = new Random(12345);
        for (int i = 0; i < 20000; i++)
        {
            int intDigits = random.Next(0, 10);
            int fracDigits = random.Next(0, 8);
            var sb = new StringBuilder();
            if (random.Next(4) == 0)
            {
                sb.Append('-');
            }

            for (int d = 0; d < intDigits; d++)
            {
                sb.Append((char)('0' + random.Next(10)));
            }

            if (fracDigits > 0 || intDigits == 0)
            {
                sb.Append('.');
                for (int d = 0; d < Math.Max(fracDigits, 1); d++)
                {
                    sb.Append((char)('0' + random.Next(10)));
                }
            }

            string text = sb.ToString();
            Recorder r = ParseAll("m " + text + " 1700000000\n");
            double expected = double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(expected, Assert.Single(r.Samples).Value);
        }
    }
}
