namespace HtmEngine.Storage.Internal;

/// <summary>MySQL forms of the §9.3 queries' backend-specific SQL.</summary>
internal sealed partial class MySqlMetricRepository
{
    // Seconds since the epoch without UNIX_TIMESTAMP, which reads DATETIME in the session time zone.
    protected override string TimeBlockExpression => "FLOOR(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', timestamp) / @block)";
}
