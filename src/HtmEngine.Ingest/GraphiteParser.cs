using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace HtmEngine.Ingest;

/// <summary>
/// Graphite plaintext parser (<c>name value timestamp\n</c>) over a <see cref="SequenceReader{T}"/>, with the rules
/// carbon-cache applies: lines end at <c>\n</c>; leading and trailing blanks (space, tab, CR, VT, FF) are ignored;
/// fields are separated by runs of blanks; exactly three fields; the value is an invariant-culture double (sign,
/// decimals, exponent) and must be finite; the timestamp is epoch seconds, integer or fractional (floored), with
/// <c>-1</c> (after truncation) meaning now. Tagged names (<c>name;tag=value</c>) are kept verbatim as the name.
/// </summary>
/// <remarks>
/// Allocation-free. A line inside one segment is parsed in place; a line that crosses segments is copied into a
/// 256-byte stack buffer, or a pooled array when longer (never more than the maximum line length). A line longer
/// than the maximum is reported once and then skipped up to its newline without being buffered.
/// </remarks>
public static class GraphiteParser
{
    /// <summary>Longest prefix of an over-long line passed to <see cref="IGraphiteLineHandler.OnRejected"/>.</summary>
    public const int RejectedPreviewLength = 256;

    private const int StackCopyLength = 256;

    // Blanks that separate fields; Python's str.split() also treats these as whitespace.
    private static readonly SearchValues<byte> s_blanks = SearchValues.Create(" \t\r\v\f"u8);

    // Exact powers of ten for the fast decimal path (every one up to 1e22 is exactly representable).
    private static readonly double[] s_powersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];

    /// <summary>
    /// Consumes at most one line. Returns false when no complete line is buffered ("need more data"); then nothing
    /// is consumed, except while skipping an over-long line, whose bytes are consumed as they arrive.
    /// </summary>
    /// <typeparam name="THandler">A struct handler, for direct calls.</typeparam>
    /// <param name="reader">The buffered input; advanced past the consumed line.</param>
    /// <param name="state">The stream's limits and state.</param>
    /// <param name="handler">Told about the sample or the rejection.</param>
    /// <returns>True if a line was consumed (accepted or rejected).</returns>
    public static bool TryParseLine<THandler>(ref SequenceReader<byte> reader, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        if (state.IsDiscarding && !SkipDiscardedLine(ref reader, ref state))
        {
            return false;
        }

        ReadOnlySpan<byte> span = reader.UnreadSpan;
        int end = TryParseCanonicalUnframed(span, ref state, ref handler);
        if (end >= 0)
        {
            reader.Advance(end + 1);
            return true;
        }

        int newline = span.IndexOf((byte)'\n');
        if (newline >= 0)
        {
            if (newline > state.MaxLineLength)
            {
                handler.OnRejected(GraphiteRejectReason.LineTooLong, span[..Math.Min(newline, RejectedPreviewLength)]);
            }
            else
            {
                ParseLine(span[..newline], ref state, ref handler);
            }

            reader.Advance(newline + 1);
            return true;
        }

        return TryParseMultiSegmentLine(ref reader, ref state, ref handler);
    }

    /// <summary>Consumes every complete line in <paramref name="reader"/>.</summary>
    /// <typeparam name="THandler">A struct handler, for direct calls.</typeparam>
    /// <param name="reader">The buffered input.</param>
    /// <param name="state">The stream's limits and state.</param>
    /// <param name="handler">Told about each line.</param>
    /// <returns>The number of lines consumed.</returns>
    public static int ParseLines<THandler>(ref SequenceReader<byte> reader, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler => ParseLines(ref reader, ref state, ref handler, int.MaxValue);

    /// <summary>
    /// Consumes complete lines, at most <paramref name="maxLines"/> (a caller whose output buffer has room for that
    /// many samples uses this to stop before it overflows). Same results as calling <see cref="TryParseLine"/>
    /// repeatedly, but lines inside one segment are walked without advancing the reader per line.
    /// </summary>
    /// <typeparam name="THandler">A struct handler, for direct calls.</typeparam>
    /// <param name="reader">The buffered input.</param>
    /// <param name="state">The stream's limits and state.</param>
    /// <param name="handler">Told about each line.</param>
    /// <param name="maxLines">The most lines to consume (at least 1).</param>
    /// <returns>The number of lines consumed.</returns>
    public static int ParseLines<THandler>(ref SequenceReader<byte> reader, ref GraphiteParserState state, ref THandler handler, int maxLines)
        where THandler : IGraphiteLineHandler
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLines, 1);
        int lines = 0;
        while (lines < maxLines)
        {
            if (state.IsDiscarding && !SkipDiscardedLine(ref reader, ref state))
            {
                break;
            }

            // Every complete line of the current segment, advancing the reader once.
            ReadOnlySpan<byte> span = reader.UnreadSpan;
            int consumed = 0;
            while (lines < maxLines)
            {
                ReadOnlySpan<byte> rest = span[consumed..];
                int end = TryParseCanonicalUnframed(rest, ref state, ref handler);
                if (end >= 0)
                {
                    consumed += end + 1;
                    lines++;
                    continue;
                }

                int newline = rest.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    break;
                }

                if (newline > state.MaxLineLength)
                {
                    handler.OnRejected(GraphiteRejectReason.LineTooLong, rest[..Math.Min(newline, RejectedPreviewLength)]);
                }
                else
                {
                    ParseLine(rest[..newline], ref state, ref handler);
                }

                consumed += newline + 1;
                lines++;
            }

            reader.Advance(consumed);
            if (lines >= maxLines || !TryParseMultiSegmentLine(ref reader, ref state, ref handler))
            {
                break;
            }

            lines++;
        }

        return lines;
    }

    /// <summary>
    /// Ends the stream: call after <see cref="TryParseLine"/> returned false on the final buffer. Bytes left without a
    /// newline are reported as <see cref="GraphiteRejectReason.Unterminated"/> (as carbon-cache drops them) and consumed.
    /// </summary>
    /// <typeparam name="THandler">A struct handler, for direct calls.</typeparam>
    /// <param name="reader">The rest of the input.</param>
    /// <param name="state">The stream's limits and state.</param>
    /// <param name="handler">Told about the unterminated rest, if any.</param>
    public static void Complete<THandler>(ref SequenceReader<byte> reader, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        if (state.IsDiscarding)
        {
            state.SetDiscarding(false);
        }
        else if (reader.Remaining > 0)
        {
            ReadOnlySpan<byte> first = reader.UnreadSpan;
            handler.OnRejected(GraphiteRejectReason.Unterminated, first[..Math.Min(first.Length, RejectedPreviewLength)]);
        }

        reader.AdvanceToEnd();
    }

    /// <summary>Parses one line that is already framed (no <c>\n</c> inside), for example one line of a JSON message.</summary>
    /// <typeparam name="THandler">A struct handler, for direct calls.</typeparam>
    /// <param name="line">The line without its newline.</param>
    /// <param name="state">The limits and the time for <c>-1</c>.</param>
    /// <param name="handler">Told about the sample or the rejection.</param>
    public static void ParseLine<THandler>(ReadOnlySpan<byte> line, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        if (line.Length > state.MaxLineLength)
        {
            handler.OnRejected(GraphiteRejectReason.LineTooLong, line[..Math.Min(line.Length, RejectedPreviewLength)]);
            return;
        }

        if (!TryParseCanonicalLine(line, ref state, ref handler))
        {
            ParseGeneralLine(line, ref state, ref handler);
        }
    }

    /// <summary>
    /// The canonical shape (<c>name SP [-]digits[.digits] SP digits [CR] LF</c>, name printable ASCII) parsed straight
    /// from the unread bytes, finding the newline as a by-product instead of searching for it first. Returns the index
    /// of the line's <c>\n</c> after reporting the sample, or -1 (having reported nothing and consumed nothing) for
    /// anything else, including a line not complete in <paramref name="rest"/>; the framed path then decides.
    /// </summary>
    private static int TryParseCanonicalUnframed<THandler>(ReadOnlySpan<byte> rest, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        int nameEnd = rest.IndexOf((byte)' ');
        if (nameEnd <= 0 || nameEnd > state.MaxNameLength)
        {
            return -1;
        }

        // Printable ASCII only: no blank, no newline and valid UTF-8 in one vectorised pass. Other names (UTF-8,
        // control characters) take the framed path, which accepts or rejects them by the full rules.
        ReadOnlySpan<byte> name = rest[..nameEnd];
        if (name.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E))
        {
            return -1;
        }

        int i = nameEnd + 1;
        bool negative = false;
        if ((uint)i < (uint)rest.Length && rest[i] == (byte)'-')
        {
            negative = true;
            i++;
        }

        ulong mantissa = 0;
        int start = i;
        uint digit;
        while ((uint)i < (uint)rest.Length && (digit = (uint)(rest[i] - '0')) <= 9)
        {
            mantissa = (mantissa * 10) + digit;
            i++;
        }

        int digits = i - start;
        int fractionDigits = 0;
        if ((uint)i < (uint)rest.Length && rest[i] == (byte)'.')
        {
            start = ++i;
            while ((uint)i < (uint)rest.Length && (digit = (uint)(rest[i] - '0')) <= 9)
            {
                mantissa = (mantissa * 10) + digit;
                i++;
            }

            fractionDigits = i - start;
            digits += fractionDigits;
        }

        if (digits is 0 or > 15 || (uint)i >= (uint)rest.Length || rest[i] != (byte)' ')
        {
            return -1;
        }

        start = ++i;
        ulong timestamp = 0;
        if (rest.Length - i >= 8)
        {
            // Eight digits at once (little-endian: the first digit is the lowest byte).
            ulong chunk = BinaryPrimitives.ReadUInt64LittleEndian(rest[i..]);
            if ((chunk & 0xF0F0F0F0F0F0F0F0UL) == 0x3030303030303030UL
                && ((chunk + 0x0606060606060606UL) & 0xF0F0F0F0F0F0F0F0UL) == 0x3030303030303030UL)
            {
                chunk -= 0x3030303030303030UL;
                chunk = ((chunk * 10) + (chunk >> 8)) & 0x00FF00FF00FF00FFUL;   // byte pairs: 2-digit numbers
                chunk = ((chunk * 100) + (chunk >> 16)) & 0x0000FFFF0000FFFFUL; // 16-bit pairs: 4-digit numbers
                timestamp = ((chunk & 0xFFFF) * 10000) + (chunk >> 32);
                i += 8;
            }
        }

        while ((uint)i < (uint)rest.Length && (digit = (uint)(rest[i] - '0')) <= 9)
        {
            timestamp = (timestamp * 10) + digit;
            i++;
        }

        if ((uint)(i - start - 1) > 10 || timestamp >= GraphiteParserState.MaxTimestampSeconds || (uint)i >= (uint)rest.Length)
        {
            return -1;
        }

        if (rest[i] != (byte)'\n')
        {
            if (rest[i] != (byte)'\r' || (uint)(i + 1) >= (uint)rest.Length || rest[i + 1] != (byte)'\n')
            {
                return -1;
            }

            i++;
        }

        if (i > state.MaxLineLength)
        {
            return -1;
        }

        double value = mantissa;
        if (fractionDigits > 0)
        {
            value /= s_powersOfTen[fractionDigits];
        }

        handler.OnSample(name, negative ? -value : value, (long)timestamp);
        return i;
    }

    /// <summary>
    /// The shape nearly every sender uses, in one pass: <c>name SP [-]digits[.digits] SP digits[CR]</c>. Returns false
    /// (having reported nothing) for anything else, which the general path then parses or rejects.
    /// </summary>
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

    private static void ParseGeneralLine<THandler>(ReadOnlySpan<byte> line, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        int start = line.IndexOfAnyExcept(s_blanks);
        if (start < 0)
        {
            handler.OnRejected(GraphiteRejectReason.EmptyLine, line);
            return;
        }

        ReadOnlySpan<byte> rest = line[start..];
        int end = rest.IndexOfAny(s_blanks);
        if (end < 0)
        {
            handler.OnRejected(GraphiteRejectReason.TooFewFields, line);
            return;
        }

        ReadOnlySpan<byte> name = rest[..end];
        rest = rest[end..];
        start = rest.IndexOfAnyExcept(s_blanks);
        if (start < 0)
        {
            handler.OnRejected(GraphiteRejectReason.TooFewFields, line);
            return;
        }

        rest = rest[start..];
        end = rest.IndexOfAny(s_blanks);
        if (end < 0)
        {
            handler.OnRejected(GraphiteRejectReason.TooFewFields, line);
            return;
        }

        ReadOnlySpan<byte> valueField = rest[..end];
        rest = rest[end..];
        start = rest.IndexOfAnyExcept(s_blanks);
        if (start < 0)
        {
            handler.OnRejected(GraphiteRejectReason.TooFewFields, line);
            return;
        }

        rest = rest[start..];
        end = rest.IndexOfAny(s_blanks);
        ReadOnlySpan<byte> timestampField = rest;
        if (end >= 0)
        {
            timestampField = rest[..end];
            if (rest[end..].IndexOfAnyExcept(s_blanks) >= 0)
            {
                handler.OnRejected(GraphiteRejectReason.TooManyFields, line);
                return;
            }
        }

        if (name.Length > state.MaxNameLength)
        {
            handler.OnRejected(GraphiteRejectReason.NameTooLong, line);
            return;
        }

        if (!Utf8.IsValid(name))
        {
            handler.OnRejected(GraphiteRejectReason.InvalidUtf8, line);
            return;
        }

        if (!TryParseValue(valueField, out double value, out GraphiteRejectReason reason))
        {
            handler.OnRejected(reason, line);
            return;
        }

        if (!TryParseTimestamp(timestampField, state.NowSeconds, out long timestamp))
        {
            handler.OnRejected(GraphiteRejectReason.BadTimestamp, line);
            return;
        }

        handler.OnSample(name, value, timestamp);
    }

    private static bool TryParseValue(ReadOnlySpan<byte> field, out double value, out GraphiteRejectReason reason)
    {
        reason = GraphiteRejectReason.BadValue;
        if (TryParseSimpleDecimal(field, out value))
        {
            return true;
        }

        if (double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            if (double.IsFinite(value))
            {
                return true;
            }

            reason = GraphiteRejectReason.NotFinite;
            return false;
        }

        if (IsNonFiniteSpelling(field))
        {
            reason = GraphiteRejectReason.NotFinite;
        }

        return false;
    }

    /// <summary>Python spellings that .NET does not parse: <c>inf</c>, <c>nan</c> (any case, optional sign).</summary>
    private static bool IsNonFiniteSpelling(ReadOnlySpan<byte> field)
    {
        if (field.Length > 0 && (field[0] == (byte)'+' || field[0] == (byte)'-'))
        {
            field = field[1..];
        }

        return System.Text.Ascii.EqualsIgnoreCase(field, "inf"u8)
            || System.Text.Ascii.EqualsIgnoreCase(field, "infinity"u8)
            || System.Text.Ascii.EqualsIgnoreCase(field, "nan"u8);
    }

    /// <summary>
    /// Fast path for <c>[+-]digits[.digits]</c> with at most 15 significant digits: the mantissa and the power of ten
    /// are exact doubles, so one division gives the correctly rounded result. Anything else falls back to the BCL.
    /// </summary>
    private static bool TryParseSimpleDecimal(ReadOnlySpan<byte> field, out double value)
    {
        value = 0;
        int i = 0;
        bool negative = false;
        if (field.Length > 0)
        {
            if (field[0] == (byte)'-')
            {
                negative = true;
                i = 1;
            }
            else if (field[0] == (byte)'+')
            {
                i = 1;
            }
        }

        ulong mantissa = 0;
        int digits = 0;
        int fractionDigits = 0;
        bool seenDot = false;
        for (; i < field.Length; i++)
        {
            uint digit = (uint)(field[i] - '0');
            if (digit <= 9)
            {
                mantissa = (mantissa * 10) + digit;
                digits++;
                if (seenDot)
                {
                    fractionDigits++;
                }
            }
            else if (field[i] == (byte)'.' && !seenDot)
            {
                seenDot = true;
            }
            else
            {
                return false;
            }
        }

        if (digits == 0 || digits > 15)
        {
            return false;
        }

        double result = mantissa;
        if (fractionDigits > 0)
        {
            result /= s_powersOfTen[fractionDigits];
        }

        value = negative ? -result : result;
        return true;
    }

    private static bool TryParseTimestamp(ReadOnlySpan<byte> field, long now, out long timestamp)
    {
        // Fast path: plain epoch seconds.
        if (field.Length is > 0 and <= 12)
        {
            long integer = 0;
            int i = 0;
            for (; i < field.Length; i++)
            {
                uint digit = (uint)(field[i] - '0');
                if (digit > 9)
                {
                    break;
                }

                integer = (integer * 10) + digit;
            }

            if (i == field.Length)
            {
                timestamp = integer;
                return integer < GraphiteParserState.MaxTimestampSeconds;
            }
        }

        timestamp = 0;
        if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !double.IsFinite(seconds))
        {
            return false;
        }

        if (Math.Truncate(seconds) == -1)
        {
            timestamp = now;
            return true;
        }

        if (seconds < 0 || seconds >= GraphiteParserState.MaxTimestampSeconds)
        {
            return false;
        }

        timestamp = (long)seconds;
        return true;
    }

    private static bool SkipDiscardedLine(ref SequenceReader<byte> reader, ref GraphiteParserState state)
    {
        if (reader.TryAdvanceTo((byte)'\n', advancePastDelimiter: true))
        {
            state.SetDiscarding(false);
            return true;
        }

        reader.AdvanceToEnd();
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryParseMultiSegmentLine<THandler>(ref SequenceReader<byte> reader, ref GraphiteParserState state, ref THandler handler)
        where THandler : IGraphiteLineHandler
    {
        // The ReadOnlySequence overload of TryReadTo slices instead of copying (the span overload allocates).
        if (!reader.TryReadTo(out ReadOnlySequence<byte> lineBytes, (byte)'\n', advancePastDelimiter: true))
        {
            if (reader.Remaining > state.MaxLineLength)
            {
                ReadOnlySpan<byte> first = reader.UnreadSpan;
                handler.OnRejected(GraphiteRejectReason.LineTooLong, first[..Math.Min(first.Length, RejectedPreviewLength)]);
                state.SetDiscarding(true);
                reader.AdvanceToEnd();
            }

            return false;
        }

        if (lineBytes.Length > state.MaxLineLength)
        {
            ReadOnlySpan<byte> first = lineBytes.FirstSpan;
            handler.OnRejected(GraphiteRejectReason.LineTooLong, first[..Math.Min(first.Length, RejectedPreviewLength)]);
            return true;
        }

        int length = (int)lineBytes.Length;
        byte[]? rented = null;
        Span<byte> copy = length <= StackCopyLength
            ? stackalloc byte[StackCopyLength]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            lineBytes.CopyTo(copy);
            ParseLine(copy[..length], ref state, ref handler);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return true;
    }
}
