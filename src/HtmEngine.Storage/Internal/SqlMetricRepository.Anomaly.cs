using System.Data.Common;
using System.Globalization;

namespace HtmEngine.Storage.Internal;

/// <summary>The anomaly service's and the garbage collector's units of work (shared SQL of both backends).</summary>
internal abstract partial class SqlMetricRepository
{
    /// <inheritdoc/>
    public Task<bool> CommitAnomalyScoresAsync(string uid, ReadOnlyMemory<ScoreUpdate> updates, Func<MetricRow, string?> rewriteModelParams, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        ArgumentNullException.ThrowIfNull(rewriteModelParams);
        return WriteAsync(
            (Repo: this, Uid: uid, Updates: updates, Rewrite: rewriteModelParams),
            static async (c, tx, s, attempt, ct) =>
            {
                // The metric row first: the storer locks it before inserting, so both take locks in one order.
                var metric = await s.Repo.TryGetMetricAsync(c, tx, s.Uid, lockRow: true, ct).ConfigureAwait(false)
                    ?? throw NotFound("uid '" + s.Uid + "'");
                var modelParams = s.Rewrite(metric);
                if (modelParams is null)
                {
                    return false;
                }

                if (!s.Updates.IsEmpty)
                {
                    await s.Repo.UpdateScoresCoreAsync(c, tx, s.Uid, s.Updates, ct).ConfigureAwait(false);
                }

                using var cmd = Command(c, tx, "UPDATE metric SET model_params = @value WHERE uid = @uid");
                Add(cmd, "@value", modelParams);
                Add(cmd, "@uid", s.Uid);
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<AnomalyCommitOutcome[]> CommitAnomalyScoresBatchAsync(IReadOnlyList<AnomalyCommit> commits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commits);
        if (commits.Count == 0)
        {
            return Task.FromResult(Array.Empty<AnomalyCommitOutcome>());
        }

        // Lock order: ordinal uid, as the storer's batch (SqlMetricRepository.Storer) locks its metrics.
        var order = new int[commits.Count];
        var keys = new string[commits.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
            keys[i] = commits[i].Uid ?? throw new ArgumentException("a commit without a uid", nameof(commits));
        }

        Array.Sort(keys, order, StringComparer.Ordinal);
        return WriteAsync(
            (Repo: this, Commits: commits, Order: order),
            static async (c, tx, s, attempt, ct) =>
            {
                var outcomes = new AnomalyCommitOutcome[s.Commits.Count];

                // Every metric row locked first (one query per chunk, in uid order), then the decisions, then the writes.
                var sortedUids = new string[s.Order.Length];
                for (var k = 0; k < sortedUids.Length; k++)
                {
                    sortedUids[k] = s.Commits[s.Order[k]].Uid;
                }

                var locked = await s.Repo.ReadMetricsByUidAsync(c, tx, sortedUids, lockRows: true, ct).ConfigureAwait(false);
                var writes = new List<(string Uid, ReadOnlyMemory<ScoreUpdate> Updates, string ModelParams)>(s.Order.Length);
                foreach (var i in s.Order)
                {
                    var commit = s.Commits[i];
                    if (!locked.TryGetValue(commit.Uid, out var metric))
                    {
                        outcomes[i] = AnomalyCommitOutcome.NotFound;
                        continue;
                    }

                    var modelParams = commit.RewriteModelParams(metric);
                    if (modelParams is null)
                    {
                        outcomes[i] = AnomalyCommitOutcome.Abandoned;
                        continue;
                    }

                    writes.Add((commit.Uid, commit.Updates, modelParams));
                    outcomes[i] = AnomalyCommitOutcome.Committed;
                }

                if (writes.Count > 0)
                {
                    await s.Repo.WriteAnomalyBatchCoreAsync(c, tx, writes, ct).ConfigureAwait(false);
                }

                return outcomes;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricRow>> GetMetricsAsync(IReadOnlyList<string> uids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uids);
        return ReadAsync(
            (Repo: this, Uids: uids),
            static async (c, s, ct) => (IReadOnlyList<MetricRow>)[.. (await s.Repo.ReadMetricsByUidAsync(c, null, s.Uids, lockRows: false, ct).ConfigureAwait(false)).Values],
            cancellationToken);
    }

    /// <summary>The metric rows of <paramref name="uids"/> that exist, by uid; with <paramref name="lockRows"/>, locked in the order given.</summary>
    private async Task<Dictionary<string, MetricRow>> ReadMetricsByUidAsync(DbConnection c, DbTransaction? tx, IReadOnlyList<string> uids, bool lockRows, CancellationToken ct)
    {
        const int Chunk = 500;
        var found = new Dictionary<string, MetricRow>(uids.Count, StringComparer.Ordinal);
        for (var offset = 0; offset < uids.Count; offset += Chunk)
        {
            var n = Math.Min(Chunk, uids.Count - offset);
            var sql = new System.Text.StringBuilder("SELECT " + MetricColumns + " FROM metric WHERE uid IN (", 64 + (n * 8));
            for (var i = 0; i < n; i++)
            {
                sql.Append(i == 0 ? "@u" : ", @u").Append(i.ToString(CultureInfo.InvariantCulture));
            }

            sql.Append(") ORDER BY uid").Append(lockRows ? ForUpdate : string.Empty);
            using var cmd = Command(c, tx, sql.ToString());
            for (var i = 0; i < n; i++)
            {
                Add(cmd, "@u" + i.ToString(CultureInfo.InvariantCulture), uids[offset + i]);
            }

            foreach (var row in await ReadMetricsAsync(cmd, ct).ConfigureAwait(false))
            {
                found[row.Uid] = row;
            }
        }

        return found;
    }

    /// <summary>
    /// Writes the scores and <c>model_params</c> of several metrics inside the batch transaction: statement by
    /// statement here; a backend may override it with fewer round trips (MySQL: one UPDATE … JOIN per chunk).
    /// </summary>
    protected virtual async Task WriteAnomalyBatchCoreAsync(DbConnection c, DbTransaction tx, List<(string Uid, ReadOnlyMemory<ScoreUpdate> Updates, string ModelParams)> writes, CancellationToken ct)
    {
        foreach (var (uid, updates, modelParams) in writes)
        {
            if (!updates.IsEmpty)
            {
                await UpdateScoresCoreAsync(c, tx, uid, updates, ct).ConfigureAwait(false);
            }

            using var cmd = Command(c, tx, "UPDATE metric SET model_params = @value WHERE uid = @uid");
            Add(cmd, "@value", modelParams);
            Add(cmd, "@uid", uid);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public Task<long> CountScoredRowsAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return ReadAsync(
            uid,
            static async (c, u, ct) =>
            {
                using var cmd = Command(c, null, "SELECT COUNT(*) FROM metric_data WHERE uid = @uid AND raw_anomaly_score IS NOT NULL");
                Add(cmd, "@uid", u);
                return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricDataRow>> GetNewestScoredRowsAsync(string uid, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return ReadAsync(
            (Repo: this, Uid: uid, Limit: limit),
            static async (c, s, ct) => (IReadOnlyList<MetricDataRow>)await s.Repo.ReadNewestScoredRowsAsync(c, s.Uid, s.Limit, ct).ConfigureAwait(false),
            cancellationToken);
    }

    private async Task<List<MetricDataRow>> ReadNewestScoredRowsAsync(DbConnection c, string uid, int limit, CancellationToken ct)
    {
        var rows = new List<MetricDataRow>(Math.Min(limit, 16384));
        if (limit == 0)
        {
            return rows;
        }

        using var cmd = Command(c, null, "SELECT rowid, timestamp, metric_value, raw_anomaly_score FROM metric_data WHERE uid = @uid AND raw_anomaly_score IS NOT NULL ORDER BY rowid DESC LIMIT @limit");
        Add(cmd, "@uid", uid);
        Add(cmd, "@limit", limit);
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                rows.Add(ScoredRow(reader, uid, 0));
            }
        }

        rows.Reverse();
        return rows;
    }

    private MetricDataRow ScoredRow(DbDataReader reader, string uid, int first) => new(
        uid,
        Convert.ToInt64(reader.GetValue(first), CultureInfo.InvariantCulture),
        ReadTimestamp(reader, first + 1),
        reader.GetDouble(first + 2),
        reader.GetDouble(first + 3),
        null,
        null,
        null);

    /// <inheritdoc/>
    public Task<IReadOnlyDictionary<string, ScoredRowsHistory>> GetScoredHistoriesAsync(IReadOnlyList<string> uids, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uids);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return ReadAsync(
            (Repo: this, Uids: uids, Limit: limit),
            static async (c, s, ct) => (IReadOnlyDictionary<string, ScoredRowsHistory>)await s.Repo.ReadScoredHistoriesAsync(c, s.Uids, s.Limit, ct).ConfigureAwait(false),
            cancellationToken);
    }

    private async Task<Dictionary<string, ScoredRowsHistory>> ReadScoredHistoriesAsync(DbConnection c, IReadOnlyList<string> uids, int limit, CancellationToken ct)
    {
        const int Chunk = 500;
        var counts = new Dictionary<string, long>(uids.Count, StringComparer.Ordinal);
        var distinct = new List<string>(uids.Count);
        foreach (var uid in uids)
        {
            if (counts.TryAdd(uid, 0))
            {
                distinct.Add(uid);
            }
        }

        // The counts, as CountScoredRowsAsync (an index range per metric), grouped.
        for (var offset = 0; offset < distinct.Count; offset += Chunk)
        {
            var n = Math.Min(Chunk, distinct.Count - offset);
            using var cmd = Command(c, null, "SELECT uid, COUNT(*) FROM metric_data WHERE uid IN (" + UidList(n) + ") AND raw_anomaly_score IS NOT NULL GROUP BY uid");
            AddUids(cmd, distinct, offset, n);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    string uid = reader.GetString(0);
                    if (counts.ContainsKey(uid))
                    {
                        counts[uid] = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
                    }
                }
            }
        }

        // Metrics with at most `limit` scored rows: all of them, read together; those with more: their newest rows
        // one metric at a time (the LIMIT query), so a long history is never read whole. New metrics have none.
        var rows = new Dictionary<string, List<MetricDataRow>>(StringComparer.Ordinal);
        var whole = new List<string>();
        foreach (var uid in distinct)
        {
            long count = counts[uid];
            if (count == 0 || limit == 0)
            {
                continue;
            }

            if (count <= limit)
            {
                whole.Add(uid);
            }
            else
            {
                rows[uid] = await ReadNewestScoredRowsAsync(c, uid, limit, ct).ConfigureAwait(false);
            }
        }

        for (var offset = 0; offset < whole.Count; offset += Chunk)
        {
            var n = Math.Min(Chunk, whole.Count - offset);
            using var cmd = Command(c, null, "SELECT uid, rowid, timestamp, metric_value, raw_anomaly_score FROM metric_data WHERE uid IN (" + UidList(n) + ") AND raw_anomaly_score IS NOT NULL ORDER BY uid, rowid");
            AddUids(cmd, whole, offset, n);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                List<MetricDataRow>? list = null;
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    string uid = reader.GetString(0);
                    if (list is null || !string.Equals(list[0].Uid, uid, StringComparison.Ordinal))
                    {
                        if (!rows.TryGetValue(uid, out list))
                        {
                            list = new List<MetricDataRow>((int)Math.Min(counts.GetValueOrDefault(uid), limit));
                            rows.Add(uid, list);
                        }
                    }

                    list.Add(ScoredRow(reader, uid, 1));
                }
            }
        }

        var result = new Dictionary<string, ScoredRowsHistory>(distinct.Count, StringComparer.Ordinal);
        foreach (var uid in distinct)
        {
            result.Add(uid, new ScoredRowsHistory(counts[uid], rows.TryGetValue(uid, out var list) ? list : []));
        }

        return result;
    }

    private static string UidList(int n)
    {
        var sql = new System.Text.StringBuilder(n * 7);
        for (var i = 0; i < n; i++)
        {
            sql.Append(i == 0 ? "@u" : ", @u").Append(i.ToString(CultureInfo.InvariantCulture));
        }

        return sql.ToString();
    }

    private static void AddUids(DbCommand cmd, List<string> uids, int offset, int n)
    {
        for (var i = 0; i < n; i++)
        {
            Add(cmd, "@u" + i.ToString(CultureInfo.InvariantCulture), uids[offset + i]);
        }
    }

    /// <inheritdoc/>
    public Task<int> DeleteOldMetricDataAsync(string uid, DateTime olderThan, int keepNewest, bool scoredOnly, int maxRows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        ArgumentOutOfRangeException.ThrowIfNegative(keepNewest);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        return WriteAsync(
            (Repo: this, Uid: uid, OlderThan: TimestampValue(RoundToSecond(olderThan)), Keep: keepNewest, ScoredOnly: scoredOnly, Max: maxRows),
            static async (c, tx, s, attempt, ct) =>
            {
                // The newest row that may go: the one just before the kept ones. Rowids grow with timestamps
                // (the storer rejects older samples), so "rowid <= cutoff and old" is a prefix of the metric.
                long cutoff;
                using (var cmd = Command(c, tx, "SELECT rowid FROM metric_data WHERE uid = @uid" + (s.ScoredOnly ? " AND raw_anomaly_score IS NOT NULL" : string.Empty) + " ORDER BY rowid DESC LIMIT 1 OFFSET @keep"))
                {
                    Add(cmd, "@uid", s.Uid);
                    Add(cmd, "@keep", s.Keep);
                    var value = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
                    if (value is null || value is DBNull)
                    {
                        return 0;
                    }

                    cutoff = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                }

                long upper;
                using (var cmd = Command(c, tx, "SELECT MAX(x.rowid) FROM (SELECT rowid FROM metric_data WHERE uid = @uid AND rowid <= @cutoff AND timestamp < @older ORDER BY rowid LIMIT @max) x"))
                {
                    Add(cmd, "@uid", s.Uid);
                    Add(cmd, "@cutoff", cutoff);
                    Add(cmd, "@older", s.OlderThan);
                    Add(cmd, "@max", s.Max);
                    var value = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
                    if (value is null || value is DBNull)
                    {
                        return 0;
                    }

                    upper = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                }

                using (var cmd = Command(c, tx, "DELETE FROM metric_data WHERE uid = @uid AND rowid <= @upper AND timestamp < @older"))
                {
                    Add(cmd, "@uid", s.Uid);
                    Add(cmd, "@upper", upper);
                    Add(cmd, "@older", s.OlderThan);
                    return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
            },
            cancellationToken);
    }
}
