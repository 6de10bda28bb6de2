using System.Buffers;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Text;

namespace HtmEngine.Storage.Internal;

/// <summary>The multi-metric sample store and the monitoring updates of the storer and the adapter (issue #7).</summary>
internal abstract partial class SqlMetricRepository
{
    /// <summary>Metrics per statement of the batch store (two parameters each at most).</summary>
    internal const int BatchStatementChunk = 400;

    private static readonly ConcurrentDictionary<(int Count, string ForUpdate), string> s_headSql = new();
    private static readonly ConcurrentDictionary<int, string> s_lastRowidSql = new();
    private static readonly string[] s_uidNames = BuildNames("@u", BatchStatementChunk);
    private static readonly string[] s_lastNames = BuildNames("@l", BatchStatementChunk);

    private static string[] BuildNames(string prefix, int count)
    {
        var names = new string[count];
        for (var i = 0; i < count; i++)
        {
            names[i] = prefix + i.ToString(CultureInfo.InvariantCulture);
        }

        return names;
    }

    /// <summary>The accepted samples of one metric, ready to insert.</summary>
    /// <param name="Uid">The metric.</param>
    /// <param name="FirstRowid">Rowid of the first accepted sample.</param>
    /// <param name="Samples">All samples given for the metric.</param>
    /// <param name="Accepted">Indexes into <paramref name="Samples"/> of the accepted ones.</param>
    /// <param name="Count">How many entries of <paramref name="Accepted"/> are used.</param>
    protected readonly record struct AcceptedSamples(string Uid, long FirstRowid, ReadOnlyMemory<Sample> Samples, int[] Accepted, int Count);

    /// <summary>Inserts the accepted samples of several metrics; backends with a bulk path override this.</summary>
    protected virtual async Task InsertSampleSetsAsync(DbConnection connection, DbTransaction transaction, List<AcceptedSamples> sets, CancellationToken cancellationToken)
    {
        foreach (var set in sets)
        {
            await InsertSamplesAsync(connection, transaction, set.Uid, set.FirstRowid, set.Samples, set.Accepted, set.Count, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public Task<StoreSamplesResult?[]> StoreSampleBatchAsync(IReadOnlyList<MetricSamples> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return Task.FromResult(Array.Empty<StoreSamplesResult?>());
        }

        var seen = new HashSet<string>(batch.Count, StringComparer.Ordinal);
        for (var i = 0; i < batch.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(batch[i].Uid, nameof(batch));
            if (!seen.Add(batch[i].Uid))
            {
                throw new ArgumentException($"metric uid '{batch[i].Uid}' appears twice in one sample batch", nameof(batch));
            }
        }

        return WriteAsync(
            (Repo: this, Attempt: new BatchAttempt(batch)),
            static (c, tx, s, attempt, ct) => s.Repo.StoreBatchOnceAsync(c, tx, s.Attempt, ct),
            cancellationToken);
    }

    /// <summary>What the previous attempt of one batch store was about to commit, to recognise a lost commit acknowledgement.</summary>
    private sealed class BatchAttempt(IReadOnlyList<MetricSamples> batch)
    {
        public IReadOnlyList<MetricSamples> Batch { get; } = batch;

        public StoreSamplesResult?[]? Pending { get; set; }

        public int ProbeIndex { get; set; } = -1;

        public object? ProbeTimestamp { get; set; }
    }

    /// <summary>A metric's row as read under its lock: status, next rowid and newest stored timestamp.</summary>
    private readonly record struct MetricHead(MetricStatus Status, long Next, DateTime? Tail);

    private async Task<StoreSamplesResult?[]> StoreBatchOnceAsync(DbConnection c, DbTransaction tx, BatchAttempt attempt, CancellationToken ct)
    {
        var batch = attempt.Batch;
        var heads = await ReadHeadsAsync(c, tx, batch, ct).ConfigureAwait(false);

        // The transaction is all or nothing: if the probe metric's rows of the previous attempt are
        // there, that attempt committed and its results stand.
        if (attempt.Pending is { } pending && attempt.ProbeIndex >= 0)
        {
            var probe = pending[attempt.ProbeIndex]!;
            var uid = batch[attempt.ProbeIndex].Uid;
            if (heads.TryGetValue(uid, out var head) && head.Next == probe.FirstRowid + probe.StoredCount
                && await PendingCommittedAsync(c, tx, uid, probe.FirstRowid, attempt.ProbeTimestamp!, ct).ConfigureAwait(false))
            {
                return pending;
            }
        }

        var results = new StoreSamplesResult?[batch.Count];
        var sets = new List<AcceptedSamples>(batch.Count);
        var probeIndex = -1;
        try
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var entry = batch[i];
                if (!heads.TryGetValue(entry.Uid, out var head))
                {
                    continue;
                }

                var outcomes = new SampleOutcome[entry.Samples.Length];
                if (entry.Samples.IsEmpty)
                {
                    results[i] = new StoreSamplesResult(head.Status, head.Next, 0, outcomes);
                    continue;
                }

                var accepted = ArrayPool<int>.Shared.Rent(entry.Samples.Length);
                var count = Scrub(entry.Samples.Span, head.Tail, outcomes, accepted);
                results[i] = new StoreSamplesResult(head.Status, head.Next, count, outcomes);
                if (count > 0)
                {
                    sets.Add(new AcceptedSamples(entry.Uid, head.Next, entry.Samples, accepted, count));
                    if (probeIndex < 0)
                    {
                        probeIndex = i;
                        attempt.ProbeTimestamp = TimestampValue(RoundToSecond(entry.Samples.Span[accepted[0]].Timestamp));
                    }
                }
                else
                {
                    ArrayPool<int>.Shared.Return(accepted);
                }

                if (count != outcomes.Length)
                {
                    LogRejections(entry.Uid, outcomes, count);
                }
            }

            if (sets.Count > 0)
            {
                attempt.Pending = results;
                attempt.ProbeIndex = probeIndex;
                await InsertSampleSetsAsync(c, tx, sets, ct).ConfigureAwait(false);
                await UpdateLastRowidsAsync(c, tx, sets, ct).ConfigureAwait(false);
            }

            return results;
        }
        finally
        {
            foreach (var set in sets)
            {
                ArrayPool<int>.Shared.Return(set.Accepted);
            }
        }
    }

    private async Task<Dictionary<string, MetricHead>> ReadHeadsAsync(DbConnection c, DbTransaction tx, IReadOnlyList<MetricSamples> batch, CancellationToken ct)
    {
        // Sorted so that concurrent batches lock metric rows in one order.
        var uids = new string[batch.Count];
        for (var i = 0; i < uids.Length; i++)
        {
            uids[i] = batch[i].Uid;
        }

        Array.Sort(uids, StringComparer.Ordinal);
        var heads = new Dictionary<string, MetricHead>(uids.Length, StringComparer.Ordinal);
        for (var offset = 0; offset < uids.Length; offset += BatchStatementChunk)
        {
            var n = Math.Min(BatchStatementChunk, uids.Length - offset);
            using var cmd = Command(c, tx, s_headSql.GetOrAdd((n, ForUpdate), static key => BuildHeadSql(key.Count, key.ForUpdate)));
            for (var i = 0; i < n; i++)
            {
                Add(cmd, s_uidNames[i], uids[offset + i]);
            }

            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var status = reader.IsDBNull(1) ? MetricStatus.Unmonitored : (MetricStatus)Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
                    var lastRowid = reader.IsDBNull(2) ? 0L : Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture);
                    var maxRowid = reader.IsDBNull(3) ? 0L : Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture);
                    DateTime? tail = reader.IsDBNull(4) ? null : ReadTimestamp(reader, 4);

                    // Rowids are never reused: continue after the larger of the counter and the data.
                    heads[reader.GetString(0)] = new MetricHead(status, Math.Max(lastRowid, maxRowid) + 1, tail);
                }
            }
        }

        return heads;
    }

    private static string BuildHeadSql(int count, string forUpdate)
    {
        var sql = new StringBuilder(
            "SELECT m.uid, m.status, m.last_rowid, (SELECT MAX(d.rowid) FROM metric_data d WHERE d.uid = m.uid), " +
            "(SELECT t.timestamp FROM metric_data t WHERE t.uid = m.uid ORDER BY t.rowid DESC LIMIT 1) FROM metric m WHERE m.uid IN (",
            200 + (count * 7));
        for (var i = 0; i < count; i++)
        {
            sql.Append(i == 0 ? string.Empty : ",").Append(s_uidNames[i]);
        }

        return sql.Append(") ORDER BY m.uid").Append(forUpdate).ToString();
    }

    private static async Task UpdateLastRowidsAsync(DbConnection c, DbTransaction tx, List<AcceptedSamples> sets, CancellationToken ct)
    {
        for (var offset = 0; offset < sets.Count; offset += BatchStatementChunk)
        {
            var n = Math.Min(BatchStatementChunk, sets.Count - offset);
            using var cmd = Command(c, tx, s_lastRowidSql.GetOrAdd(n, BuildLastRowidSql));
            for (var i = 0; i < n; i++)
            {
                var set = sets[offset + i];
                Add(cmd, s_uidNames[i], set.Uid);
                Add(cmd, s_lastNames[i], set.FirstRowid + set.Count - 1);
            }

            var updated = await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            if (updated != n)
            {
                throw new StorageException($"moving last_rowid of {n} metrics matched {updated} rows");
            }
        }
    }

    private static string BuildLastRowidSql(int count)
    {
        var sql = new StringBuilder("UPDATE metric SET last_rowid = CASE uid", 80 + (count * 30));
        for (var i = 0; i < count; i++)
        {
            sql.Append(" WHEN ").Append(s_uidNames[i]).Append(" THEN ").Append(s_lastNames[i]);
        }

        sql.Append(" ELSE last_rowid END WHERE uid IN (");
        for (var i = 0; i < count; i++)
        {
            sql.Append(i == 0 ? string.Empty : ",").Append(s_uidNames[i]);
        }

        return sql.Append(')').ToString();
    }

    /// <inheritdoc/>
    public Task<bool> TryUpdateMonitoringAsync(string uid, MetricStatus expectedStatus, MonitoringUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        ArgumentNullException.ThrowIfNull(update);
        return WriteAsync(
            (Uid: uid, Expected: expectedStatus, Update: update),
            static async (c, tx, s, attempt, ct) =>
            {
                using var cmd = Command(
                    c,
                    tx,
                    "UPDATE metric SET status = @status, message = NULL, parameters = COALESCE(@parameters, parameters), " +
                    "model_params = COALESCE(@model_params, model_params), server = COALESCE(@server, server) " +
                    "WHERE uid = @uid AND status = @expected");
                Add(cmd, "@status", (int)s.Update.Status);
                Add(cmd, "@parameters", s.Update.Parameters);
                Add(cmd, "@model_params", s.Update.ModelParams);
                Add(cmd, "@server", s.Update.Server);
                Add(cmd, "@uid", s.Uid);
                Add(cmd, "@expected", (int)s.Expected);
                return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task ResetModelAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return WriteAsync(
            uid,
            static async (c, tx, u, attempt, ct) =>
            {
                using (var cmd = Command(c, tx, "UPDATE metric SET parameters = NULL, model_params = NULL, status = 0, message = NULL WHERE uid = @uid"))
                {
                    Add(cmd, "@uid", u);
                    if (await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                    {
                        throw NotFound("uid '" + u + "'");
                    }
                }

                using (var cmd = Command(c, tx, "UPDATE metric_data SET raw_anomaly_score = NULL, anomaly_score = NULL, display_value = NULL, multi_step_best_predictions = NULL WHERE uid = @uid"))
                {
                    Add(cmd, "@uid", u);
                    await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }

                return true;
            },
            cancellationToken);
    }
}
