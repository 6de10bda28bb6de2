namespace HtmEngine.Ingest;

/// <summary>
/// Why a Graphite plaintext line was not accepted. The set is fixed: counters and logs are indexed by it,
/// so add a value only together with a test and a counter name.
/// </summary>
public enum GraphiteRejectReason
{
    /// <summary>The line (without its newline) is longer than the configured maximum; it was skipped up to the next newline.</summary>
    LineTooLong = 0,

    /// <summary>The line is empty or holds only blanks.</summary>
    EmptyLine = 1,

    /// <summary>Fewer than the three fields <c>name value timestamp</c>.</summary>
    TooFewFields = 2,

    /// <summary>More than three whitespace-separated fields.</summary>
    TooManyFields = 3,

    /// <summary>The value is not a number in invariant notation (integer, decimal or exponent form).</summary>
    BadValue = 4,

    /// <summary>The value is NaN or an infinity (or overflows to one); HTM encoders cannot use it.</summary>
    NotFinite = 5,

    /// <summary>The timestamp is not a number, is negative (other than <c>-1</c>, meaning now) or is too large to be epoch seconds (for example milliseconds).</summary>
    BadTimestamp = 6,

    /// <summary>The metric name is longer than the configured maximum (in UTF-8 bytes).</summary>
    NameTooLong = 7,

    /// <summary>The metric name is not well-formed UTF-8.</summary>
    InvalidUtf8 = 8,

    /// <summary>The stream ended in the middle of a line (no terminating newline).</summary>
    Unterminated = 9,

    /// <summary>The name is new and the metric name table already holds its configured maximum of names.</summary>
    NameTableFull = 10,
}

/// <summary>Helpers for <see cref="GraphiteRejectReason"/>.</summary>
public static class GraphiteRejectReasons
{
    /// <summary>Number of values in <see cref="GraphiteRejectReason"/>; arrays indexed by reason have this length.</summary>
    public const int Count = 11;

    /// <summary>A stable snake_case name for counters and logs (no allocation).</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The name.</returns>
    public static string ToCounterName(this GraphiteRejectReason reason) => reason switch
    {
        GraphiteRejectReason.LineTooLong => "line_too_long",
        GraphiteRejectReason.EmptyLine => "empty_line",
        GraphiteRejectReason.TooFewFields => "too_few_fields",
        GraphiteRejectReason.TooManyFields => "too_many_fields",
        GraphiteRejectReason.BadValue => "bad_value",
        GraphiteRejectReason.NotFinite => "not_finite",
        GraphiteRejectReason.BadTimestamp => "bad_timestamp",
        GraphiteRejectReason.NameTooLong => "name_too_long",
        GraphiteRejectReason.InvalidUtf8 => "invalid_utf8",
        GraphiteRejectReason.Unterminated => "unterminated",
        GraphiteRejectReason.NameTableFull => "name_table_full",
        _ => "unknown",
    };
}
