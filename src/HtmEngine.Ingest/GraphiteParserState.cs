namespace HtmEngine.Ingest;

/// <summary>
/// Per-stream settings and state of <see cref="GraphiteParser"/>: the limits, the current time used for the
/// <c>-1</c> timestamp, and whether the parser is skipping the rest of an over-long line. One value per connection.
/// </summary>
public struct GraphiteParserState
{
    /// <summary>The default maximum line length in bytes, newline excluded.</summary>
    public const int DefaultMaxLineLength = 4096;

    /// <summary>The default maximum metric name length in UTF-8 bytes (the original stores names in a 255-wide column).</summary>
    public const int DefaultMaxNameLength = 255;

    /// <summary>Timestamps at or above this are rejected: they are not plausible epoch seconds (milliseconds, for example).</summary>
    public const long MaxTimestampSeconds = 100_000_000_000;

    private bool _discarding;

    /// <summary>Creates a state with the default limits.</summary>
    public GraphiteParserState()
        : this(DefaultMaxLineLength, DefaultMaxNameLength)
    {
    }

    /// <summary>Creates a state with the given limits.</summary>
    /// <param name="maxLineLength">Longest accepted line in bytes, newline excluded (at least 16).</param>
    /// <param name="maxNameLength">Longest accepted metric name in UTF-8 bytes (at least 1, at most <paramref name="maxLineLength"/>).</param>
    public GraphiteParserState(int maxLineLength, int maxNameLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNameLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxNameLength, maxLineLength);
        MaxLineLength = maxLineLength;
        MaxNameLength = maxNameLength;
        NowSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    /// <summary>Longest accepted line in bytes, newline excluded.</summary>
    public int MaxLineLength { get; }

    /// <summary>Longest accepted metric name in UTF-8 bytes.</summary>
    public int MaxNameLength { get; }

    /// <summary>The value substituted for a <c>-1</c> timestamp; the caller refreshes it once per received buffer.</summary>
    public long NowSeconds { get; set; }

    /// <summary>True while the rest of an over-long line is being skipped.</summary>
    public readonly bool IsDiscarding => _discarding;

    internal void SetDiscarding(bool value) => _discarding = value;
}
