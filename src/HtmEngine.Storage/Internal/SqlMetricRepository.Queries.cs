using System.Data.Common;
using System.Globalization;
using System.Text;

namespace HtmEngine.Storage.Internal;

/// <summary>The application-side queries of htmengine-spec §9.3 (see <c>IMetricRepository.Queries.cs</c>).</summary>
internal abstract partial class SqlMetricRepository
{
    private const string DataColumns = "uid, rowid, timestamp, metric_value, raw_anomaly_score, anomaly_score, display_value, multi_step_best_predictions";

    /// <summary>
    /// The block number of <c>metric_data.timestamp</c> in blocks of <c>@block</c> seconds since the Unix epoch
    /// (SQLite stores epoch seconds, so an integer division does).
    /// </summary>
    protected virtual string TimeBlockExpression => "(timestamp / @block)";

    /// <summary>Reads rows selected as <see cref="DataColumns"/> (NULL for columns not asked for).</summary>
    private async Task<IReadOnlyList<MetricDataRow>> ReadDataRowsAsync(DbCommand cmd, CancellationToken ct)
    {
        var rows = new List<MetricDataRow>();
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                rows.Add(new MetricDataRow(
                    reader.GetString(0),
                    Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture),
                    reader.IsDBNull(2) ? default : ReadTimestamp(reader, 2),
                    reader.IsDBNull(3) ? 0 : reader.GetDouble(3),
                    reader.IsDBNull(4) ? null : reader.GetDouble(4),
                    reader.IsDBNull(5) ? null : reader.GetDouble(5),
                    reader.IsDBNull(6) ? null : Convert.ToInt32(reader.GetValue(6), CultureInfo.InvariantCulture),
                    reader.IsDBNull(7) ? null : reader.GetString(7)));
            }
        }

        return rows;
    }

    private Task<long> CountAsync(string sql, string? parameterName, string? parameterValue, CancellationToken cancellationToken)
        => ReadAsync(
            (Sql: sql, Name: parameterName, Value: parameterValue),
            static async (c, s, ct) =>
            {
                using var cmd = Command(c, null, s.Sql);
                if (s.Name is not null)
                {
                    Add(cmd, s.Name, s.Value);
                }

                return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            },
            cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<InstanceSummary>> GetInstancesAsync(CancellationToken cancellationToken = default)
        => ReadAsync(
            this,
            static async (c, repo, ct) =>
            {
                using var cmd = Command(c, null, "SELECT server, location, name, tag_name, status, parameters, message FROM metric WHERE status <> 0 ORDER BY server, name, uid");
                var result = new List<InstanceSummary>();
                var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    InstanceSummary? current = null;
                    StringBuilder? messages = null;
                    while (await reader.ReadAsync(ct).ConfigureAwait(false))
                    {
                        string? server = reader.IsDBNull(0) ? null : reader.GetString(0);
                        var status = (MetricStatus)Convert.ToInt32(reader.GetValue(4), CultureInfo.InvariantCulture);
                        string? message = reader.IsDBNull(6) ? null : reader.GetString(6);
                        if (current is null || !string.Equals(current.Server, server, StringComparison.Ordinal))
                        {
                            if (current is not null)
                            {
                                result.Add(current with { Message = messages?.ToString() });
                            }

                            string? name = reader.IsDBNull(2) ? null : reader.GetString(2);
                            current = new InstanceSummary(
                                server,
                                reader.IsDBNull(1) ? null : reader.GetString(1),
                                NamespaceOf(name),
                                reader.IsDBNull(3) ? null : reader.GetString(3),
                                status,
                                reader.IsDBNull(5) ? null : reader.GetString(5),
                                null,
                                1);
                            messages = null;
                        }
                        else
                        {
                            current = current with { Status = current.Status | status, MetricCount = current.MetricCount + 1 };
                        }

                        if (!string.IsNullOrEmpty(message))
                        {
                            messages = messages is null ? new StringBuilder(message) : messages.Append('\n').Append(message);
                        }
                    }

                    if (current is not null)
                    {
                        result.Add(current with { Message = messages?.ToString() });
                    }
                }

                IReadOnlyList<InstanceSummary> list = result;
                return list;
            },
            cancellationToken);

    /// <summary>The name up to its second '/' when it has two, else the whole name (htmengine's instance namespace).</summary>
    internal static string? NamespaceOf(string? name)
    {
        if (name is null)
        {
            return null;
        }

        int first = name.IndexOf('/', StringComparison.Ordinal);
        int second = first < 0 ? -1 : name.IndexOf('/', first + 1);
        return second < 0 ? name : name[..second];
    }

    /// <inheritdoc/>
    public Task<long> GetMetricCountForServerAsync(string server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return CountAsync("SELECT COUNT(*) FROM metric WHERE server = @server", "@server", server, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListMetricIdsForServerAsync(string server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return ReadAsync(
            server,
            static async (c, s, ct) =>
            {
                using var cmd = Command(c, null, "SELECT uid FROM metric WHERE server = @server ORDER BY uid");
                Add(cmd, "@server", s);
                var uids = new List<string>();
                var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(ct).ConfigureAwait(false))
                    {
                        uids.Add(reader.GetString(0));
                    }
                }

                IReadOnlyList<string> list = uids;
                return list;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<long> GetProcessedMetricDataCountAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return CountAsync("SELECT COUNT(*) FROM metric_data WHERE uid = @uid AND raw_anomaly_score IS NOT NULL", "@uid", uid, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<long> GetUnprocessedModelDataCountAsync(CancellationToken cancellationToken = default)
        => CountAsync(
            "SELECT COUNT(*) FROM metric_data d INNER JOIN metric m ON m.uid = d.uid WHERE m.status = " + (int)MetricStatus.Active + " AND d.anomaly_score IS NULL",
            null,
            null,
            cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricDataRow>> GetMetricDataWithRawAnomalyScoresTailAsync(string uid, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return ReadAsync(
            (Repo: this, Uid: uid, Limit: limit),
            static (c, s, ct) =>
            {
                using var cmd = Command(c, null, "SELECT " + DataColumns + " FROM metric_data WHERE uid = @uid AND raw_anomaly_score IS NOT NULL ORDER BY timestamp DESC, rowid DESC LIMIT @limit");
                Add(cmd, "@uid", s.Uid);
                Add(cmd, "@limit", s.Limit);
                return s.Repo.ReadDataRowsAsync(cmd, ct);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricDisplayScore>> GetMetricIdsSortedByDisplayValueAsync(int periodHours, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(periodHours, 1);
        return ReadAsync(
            (Repo: this, Period: periodHours),
            static async (c, s, ct) =>
            {
                DateTime newest;
                using (var max = Command(c, null, "SELECT MAX(timestamp) FROM metric_data"))
                {
                    var reader = await max.ExecuteReaderAsync(ct).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        if (!await reader.ReadAsync(ct).ConfigureAwait(false) || reader.IsDBNull(0))
                        {
                            return (IReadOnlyList<MetricDisplayScore>)[];
                        }

                        newest = s.Repo.ReadTimestamp(reader, 0);
                    }
                }

                using var cmd = Command(
                    c,
                    null,
                    "SELECT uid, SUM(block_max) FROM (SELECT uid, MAX(display_value) AS block_max FROM metric_data " +
                    "WHERE timestamp >= @from GROUP BY uid, " + s.Repo.TimeBlockExpression + ") blocks GROUP BY uid");
                Add(cmd, "@from", s.Repo.TimestampValue(newest.AddHours(-s.Period)));
                Add(cmd, "@block", s.Period * 150L);
                var scores = new List<MetricDisplayScore>();
                var rows = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await using (rows.ConfigureAwait(false))
                {
                    while (await rows.ReadAsync(ct).ConfigureAwait(false))
                    {
                        scores.Add(new MetricDisplayScore(rows.GetString(0), rows.IsDBNull(1) ? null : Convert.ToInt64(rows.GetValue(1), CultureInfo.InvariantCulture)));
                    }
                }

                scores.Sort(static (a, b) =>
                {
                    int byScore = (b.Score ?? long.MinValue).CompareTo(a.Score ?? long.MinValue);
                    return byScore != 0 ? byScore : string.CompareOrdinal(a.Uid, b.Uid);
                });
                return (IReadOnlyList<MetricDisplayScore>)scores;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task DeleteModelAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return WriteAsync(
            uid,
            static async (c, tx, u, attempt, ct) =>
            {
                using (var metric = Command(c, tx, "UPDATE metric SET parameters = NULL, model_params = NULL, status = @status, message = NULL WHERE uid = @uid"))
                {
                    Add(metric, "@status", (int)MetricStatus.Unmonitored);
                    Add(metric, "@uid", u);
                    if (await metric.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                    {
                        throw NotFound("uid '" + u + "'");
                    }
                }

                using var data = Command(c, tx, "UPDATE metric_data SET raw_anomaly_score = NULL, anomaly_score = NULL, display_value = NULL, multi_step_best_predictions = NULL WHERE uid = @uid");
                Add(data, "@uid", u);
                await data.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<bool> SaveInstanceStatusAsync(string server, string status, DateTime? timestamp = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(status);
        var at = RoundToSecond(timestamp ?? DateTime.UtcNow);
        return WriteAsync(
            (Repo: this, Server: server, Status: status, At: at),
            static async (c, tx, s, attempt, ct) =>
            {
                string? latestStatus = null;
                DateTime? latestAt = null;
                using (var latest = Command(c, tx, "SELECT status, timestamp FROM instance_status_history WHERE server = @server ORDER BY timestamp DESC LIMIT 1" + s.Repo.ForUpdate))
                {
                    Add(latest, "@server", s.Server);
                    var reader = await latest.ExecuteReaderAsync(ct).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        if (await reader.ReadAsync(ct).ConfigureAwait(false))
                        {
                            latestStatus = reader.GetString(0);
                            latestAt = s.Repo.ReadTimestamp(reader, 1);
                        }
                    }
                }

                if (string.Equals(latestStatus, s.Status, StringComparison.Ordinal))
                {
                    return false;
                }

                using var write = Command(c, tx, latestAt == s.At
                    ? "UPDATE instance_status_history SET status = @status WHERE server = @server AND timestamp = @timestamp"
                    : "INSERT INTO instance_status_history (server, timestamp, status) VALUES (@server, @timestamp, @status)");
                Add(write, "@server", s.Server);
                Add(write, "@timestamp", s.Repo.TimestampValue(s.At));
                Add(write, "@status", s.Status);
                await write.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<InstanceStatus>> GetInstanceStatusHistoryAsync(string server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return ReadAsync(
            (Repo: this, Server: server),
            static async (c, s, ct) =>
            {
                using var cmd = Command(c, null, "SELECT server, timestamp, status FROM instance_status_history WHERE server = @server ORDER BY timestamp DESC");
                Add(cmd, "@server", s.Server);
                var rows = new List<InstanceStatus>();
                var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(ct).ConfigureAwait(false))
                    {
                        rows.Add(new InstanceStatus(reader.GetString(0), s.Repo.ReadTimestamp(reader, 1), reader.GetString(2)));
                    }
                }

                IReadOnlyList<InstanceStatus> list = rows;
                return list;
            },
            cancellationToken);
    }
}
