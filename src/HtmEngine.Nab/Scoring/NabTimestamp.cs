using System.Globalization;

namespace HtmEngine.Nab.Scoring;

/// <summary>Parses NAB timestamps (<c>yyyy-MM-dd HH:mm:ss</c> with an optional fraction, e.g. <c>.000000</c>).</summary>
public static class NabTimestamp
{
    /// <summary>Tries to parse a NAB timestamp; a <c>T</c> separator is accepted as well as a space.</summary>
    /// <param name="text">The text.</param>
    /// <param name="value">The parsed timestamp (kind unspecified).</param>
    /// <returns><see langword="true"/> when the text is a valid timestamp.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out DateTime value)
    {
        value = default;
        text = text.Trim();
        if (text.Length < 19 || text[4] != '-' || text[7] != '-' || (text[10] != ' ' && text[10] != 'T')
            || text[13] != ':' || text[16] != ':')
        {
            return false;
        }

        if (!Digits(text[..4], out int year) || !Digits(text.Slice(5, 2), out int month)
            || !Digits(text.Slice(8, 2), out int day) || !Digits(text.Slice(11, 2), out int hour)
            || !Digits(text.Slice(14, 2), out int minute) || !Digits(text.Slice(17, 2), out int second))
        {
            return false;
        }

        long fractionTicks = 0;
        if (text.Length > 19)
        {
            if (text[19] != '.' || text.Length == 20)
            {
                return false;
            }

            ReadOnlySpan<char> fraction = text[20..];
            long scale = TimeSpan.TicksPerSecond;
            foreach (char c in fraction)
            {
                if (c is < '0' or > '9')
                {
                    return false;
                }

                scale /= 10;
                fractionTicks += (c - '0') * scale;
            }
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        value = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(fractionTicks);
        return true;
    }

    /// <summary>Formats a timestamp the way NAB data files write it (<c>yyyy-MM-dd HH:mm:ss</c>).</summary>
    /// <param name="value">The timestamp.</param>
    /// <returns>The text.</returns>
    public static string Format(DateTime value) =>
        value.ToString(value.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd HH:mm:ss" : "yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    private static bool Digits(ReadOnlySpan<char> span, out int value)
    {
        value = 0;
        foreach (char c in span)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
