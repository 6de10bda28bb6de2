using System.Net.Sockets;
using System.Text;
using HtmEngine.Storage;
using HtmEngine.Storage.Internal;
using MySqlConnector;

namespace HtmEngine.Tests.Unit.Storage;

public sealed class ScrubTests
{
    private static readonly DateTime s_t0 = new(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    private static (SampleOutcome[] Outcomes, int[] Accepted) Run(DateTime? tail, params Sample[] samples)
    {
        var outcomes = new SampleOutcome[samples.Length];
        var accepted = new int[samples.Length];
        var n = SqlMetricRepository.Scrub(samples, tail, outcomes, accepted);
        return (outcomes, accepted[..n]);
    }

    [Fact]
    public void Increasing_timestamps_are_all_accepted_in_order()
    {
        var (outcomes, accepted) = Run(null, new Sample(s_t0, 1), new Sample(s_t0.AddSeconds(1), 2), new Sample(s_t0.AddDays(1), 3));
        Assert.All(outcomes, o => Assert.Equal(SampleOutcome.Stored, o));
        Assert.Equal(new[] { 0, 1, 2 }, accepted);
    }

    [Fact]
    public void Equal_is_a_duplicate_older_is_out_of_order_against_the_previous_accepted_sample()
    {
        var (outcomes, accepted) = Run(
            s_t0,
            new Sample(s_t0, 1),
            new Sample(s_t0.AddSeconds(-5), 2),
            new Sample(s_t0.AddSeconds(10), 3),
            new Sample(s_t0.AddSeconds(5), 4),
            new Sample(s_t0.AddSeconds(10), 5),
            new Sample(s_t0.AddSeconds(11), 6));
        Assert.Equal(new[] { SampleOutcome.Duplicate, SampleOutcome.OutOfOrder, SampleOutcome.Stored, SampleOutcome.OutOfOrder, SampleOutcome.Duplicate, SampleOutcome.Stored }, outcomes);
        Assert.Equal(new[] { 2, 5 }, accepted);
    }

    [Fact]
    public void Timestamps_are_compared_as_stored_rounded_to_the_second()
    {
        // 12:00:00.6 rounds to 12:00:01, which equals the next sample.
        var (outcomes, _) = Run(null, new Sample(s_t0.AddMilliseconds(600), 1), new Sample(s_t0.AddSeconds(1), 2), new Sample(s_t0.AddMilliseconds(1400), 3));
        Assert.Equal(new[] { SampleOutcome.Stored, SampleOutcome.Duplicate, SampleOutcome.Duplicate }, outcomes);
    }

    [Fact]
    public void Non_finite_values_are_rejected_and_do_not_move_the_previous_timestamp()
    {
        var (outcomes, accepted) = Run(null, new Sample(s_t0.AddSeconds(5), double.NaN), new Sample(s_t0, 1), new Sample(s_t0.AddSeconds(1), double.NegativeInfinity), new Sample(s_t0.AddSeconds(1), 2));
        Assert.Equal(new[] { SampleOutcome.InvalidValue, SampleOutcome.Stored, SampleOutcome.InvalidValue, SampleOutcome.Stored }, outcomes);
        Assert.Equal(new[] { 1, 3 }, accepted);
    }
}

public sealed class TimestampTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(499, 0)]
    [InlineData(500, 1)]
    [InlineData(999, 1)]
    public void RoundToSecond_rounds_half_up_like_MySQL_DATETIME(int milliseconds, int expectedSeconds)
    {
        var t = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rounded = SqlMetricRepository.RoundToSecond(t.AddMilliseconds(milliseconds));
        Assert.Equal(t.AddSeconds(expectedSeconds), rounded);
        Assert.Equal(DateTimeKind.Utc, rounded.Kind);
    }

    [Fact]
    public void Unspecified_kind_is_taken_as_UTC_and_unix_seconds_round_trip()
    {
        var t = new DateTime(2026, 7, 8, 9, 10, 11, DateTimeKind.Unspecified);
        var seconds = SqlMetricRepository.ToUnixSeconds(SqlMetricRepository.RoundToSecond(t));
        Assert.Equal(new DateTimeOffset(2026, 7, 8, 9, 10, 11, TimeSpan.Zero).ToUnixTimeSeconds(), seconds);
        Assert.Equal(DateTime.SpecifyKind(t, DateTimeKind.Utc), SqlMetricRepository.FromUnixSeconds(seconds));
    }
}

public sealed class BulkFormatTests
{
    [Fact]
    public void WriteTsv_writes_uid_rowid_timestamp_and_round_trippable_value_per_line()
    {
        var samples = new[]
        {
            new Sample(new DateTime(2026, 1, 2, 3, 4, 5, 600, DateTimeKind.Utc), 0.1),
            new Sample(new DateTime(2026, 1, 2, 3, 4, 9, DateTimeKind.Utc), -1e-300),
            new Sample(new DateTime(2026, 1, 2, 3, 5, 0, DateTimeKind.Utc), 12345678.5),
        };
        var buffer = new byte[1024];
        var n = MySqlMetricRepository.WriteTsv(buffer, Encoding.UTF8.GetBytes("abc"), 41, samples, new[] { 0, 2 }, 2);
        Assert.Equal("abc\t41\t2026-01-02 03:04:06\t0.1\nabc\t42\t2026-01-02 03:05:00\t12345678.5\n", Encoding.UTF8.GetString(buffer, 0, n));
    }

    [Fact]
    public void EscapeTsv_escapes_the_bulk_format_specials()
        => Assert.Equal("a\\\\b\\tc\\nd\\re", Encoding.UTF8.GetString(MySqlMetricRepository.EscapeTsv("a\\b\tc\nd\re")));
}

public sealed class MySqlClassificationTests
{
    [Fact]
    public void Network_failures_anywhere_in_the_chain_are_transient()
    {
        Assert.True(MySqlErrors.IsTransient(new IOException("reset")));
        Assert.True(MySqlErrors.IsTransient(new InvalidOperationException("outer", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.True(MySqlErrors.IsConnectionFailure(new InvalidOperationException("outer", new EndOfStreamException())));
    }

    [Fact]
    public void Programming_errors_are_not_transient()
    {
        Assert.False(MySqlErrors.IsTransient(new InvalidOperationException("bad state")));
        Assert.False(MySqlErrors.IsTransient(new ArgumentException("bad")));
    }

    [Fact]
    public void Connection_string_asks_for_local_infile_and_no_TLS_on_loopback()
    {
        var options = new StorageOptions("127.0.0.1", 3307, "db", "u", "pw", string.Empty);
        var cs = new MySqlConnectionStringBuilder(MySqlMetricRepository.ConnectionString(options, withDatabase: true));
        Assert.True(cs.AllowLoadLocalInfile);
        Assert.Equal(MySqlSslMode.None, cs.SslMode);
        Assert.Equal(3307u, cs.Port);
        Assert.Equal("db", cs.Database);
        Assert.Equal(string.Empty, new MySqlConnectionStringBuilder(MySqlMetricRepository.ConnectionString(options, withDatabase: false)).Database);
        Assert.Equal(MySqlSslMode.Preferred, new MySqlConnectionStringBuilder(MySqlMetricRepository.ConnectionString(options with { Host = "db.example" }, withDatabase: true)).SslMode);
    }

    [Fact]
    public void A_database_name_is_quoted_as_an_identifier()
        => Assert.Equal("`we``ird`", MySqlMetricRepository.QuoteIdentifier("we`ird"));
}

public sealed class StorageOptionsTests
{
    [Fact]
    public void Describe_and_ToString_name_everything_but_the_password()
    {
        var options = new StorageOptions("db.example", 3306, "htm", "engine", "s3cret!", "/x.db");
        Assert.Equal("MySQL at db.example:3306, database 'htm', user 'engine'", options.Describe());
        Assert.DoesNotContain("s3cret", options.ToString(), StringComparison.Ordinal);
        Assert.False(options.UsesSqlite);
    }

    [Fact]
    public void An_empty_host_selects_SQLite()
    {
        var options = new StorageOptions(string.Empty, 3306, "htm", "root", string.Empty, "/var/htm.db");
        Assert.True(options.UsesSqlite);
        Assert.Equal("SQLite file '/var/htm.db'", options.Describe());
    }

    [Fact]
    public void Custom_metric_defaults_are_the_storers()
    {
        var m = NewMetric.Custom("a.b");
        Assert.Equal(("a.b", "custom", "Custom metric a.b", "a.b", "", 300, MetricStatus.Unmonitored, 0L), (m.Name, m.Datasource, m.Description, m.Server, m.Location, m.PollInterval!.Value, m.Status, m.LastRowid));
    }
}
