using System.Buffers;
using System.Text.Unicode;
using HtmEngine.Ingest;

namespace HtmEngine.Benchmarks.Parsing;

/// <summary>
/// A frozen copy of the parser's per-segment loop and canonical-line path as of 2026-11-28 04:45 UTC (before the
/// unframed fast path), so one benchmark run can report the new parser's speed as a ratio to the old one. Lines it
/// does not recognise, and lines crossing segments, go to the current <see cref="GraphiteParser"/>; on the benchmark's
/// canonical input that is one line per segment.
/// </summary>
internal static class GraphiteParserBaseline
{
    private static readonly SearchValues<byte> s_blanks = SearchValues.Create(" \t\r\v\f"u8);

    private static readonly double[] s_powersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];

    public static int ParseLines<THandler>(ref SequenceReader<byte> reader, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        int lines = 0;
        while (true)
        {
            ReadOnlySpan<byte> span = reader.UnreadSpan;
            int consumed = 0;
            while (true)
            {
                ReadOnlySpan<byte> rest = span[consumed..];
                int newline = rest.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    break;
                }

                ReadOnlySpan<byte> line = rest[..newline];
                if (newline > state.MaxLineLength || !TryParseCanonicalLine(line, ref state, ref handler))
                {
                    GraphiteParser.ParseLine(line, ref state, ref handler);
                }

                consumed += newline + 1;
                lines++;
            }

            reader.Advance(consumed);
            if (!GraphiteParser.TryParseLine(ref reader, ref state, ref handler))
            {
                break;
            }

            lines++;
        }

        return lines;
    }

    private static bool TryParseCanonicalLine<THandler>(ReadOnlySpan<byte> line, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        int nameEnd = line.IndexOfAny(s_blanks);
        if (nameEnd <= 0 || line[nameEnd] != (byte)' ' || nameEnd > state.MaxNameLength)
        {
            return false;
        }

        int i = nameEnd + 1;
        bool negative = false;
        if ((uint)i < (uint)line.Length && line[i] == (byte)'-')
        {
            negative = true;
            i++;
        }

        ulong mantissa = 0;
        int digits = 0;
        int fractionDigits = 0;
        bool seenDot = false;
        for (; (uint)i < (uint)line.Length; i++)
        {
            byte c = line[i];
            uint digit = (uint)(c - '0');
            if (digit <= 9)
            {
                mantissa = (mantissa * 10) + digit;
                digits++;
                fractionDigits += seenDot ? 1 : 0;
            }
            else if (c == (byte)'.' && !seenDot)
            {
                seenDot = true;
            }
            else
            {
                break;
            }
        }

        if (digits is 0 or > 15 || (uint)i >= (uint)line.Length || line[i] != (byte)' ')
        {
            return false;
        }

        int timestampStart = ++i;
        long timestamp = 0;
        for (; (uint)i < (uint)line.Length; i++)
        {
            uint digit = (uint)(line[i] - '0');
            if (digit > 9)
            {
                break;
            }

            timestamp = (timestamp * 10) + digit;
        }

        int timestampDigits = i - timestampStart;
        if (timestampDigits is 0 or > 11
            || timestamp >= GraphiteParserState.MaxTimestampSeconds
            || (i != line.Length && (i != line.Length - 1 || line[i] != (byte)'\r')))
        {
            return false;
        }

        ReadOnlySpan<byte> name = line[..nameEnd];
        if (!Utf8.IsValid(name))
        {
            return false;
        }

        double value = mantissa;
        if (fractionDigits > 0)
        {
            value /= s_powersOfTen[fractionDigits];
        }

        handler.OnSample(name, negative ? -value : value, timestamp);
        return true;
    }
}
