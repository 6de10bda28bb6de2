using System.Buffers;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Storage.Internal;

/// <summary>
/// The repository logic both backends share: every query and write as parameterised ADO.NET,
/// units of work with transient-error retry, and the storer's scrub. Backends supply connections,
/// row locking, timestamp mapping, error classification and the bulk paths.
/// </summary>
internal abstract partial class SqlMetricRepository : IMetricRepository
{
    private const string MetricColumns =
        "uid, datasource, name, description, server, location, parameters, status, message, collector_error, last_timestamp, poll_interval, tag_name, model_params, last_rowid";

    private static readonly long s_unixEpochTicks = DateTime.UnixEpoch.Ticks;

    private readonly ILogger _logger;

    protected SqlMetricRepository(StorageOptions options, ILogger logger)
    {
        Options = options;
        _logger = logger;
    }

    /// <inheritdoc/>
    public abstract string Backend { get; }

    /// <inheritdoc/>
    public int SchemaVersion { get; protected set; }

    protected StorageOptions Options { get; }

    protected ILogger Logger => _logger;

    /// <summary>Row-lock suffix for a SELECT inside a write transaction (" FOR UPDATE" or empty).</summary>
    protected abstract string ForUpdate { get; }

    /// <summary>Case-sensitive name comparison against parameter @name.</summary>
    protected abstract string NameEqualsParameter { get; }

    /// <summary>The LIMIT value meaning "no limit" (needed when only OFFSET is given).</summary>
    protected abstract string NoLimit { get; }

    /// <summary>Opens a connection ready for use.</summary>
    protected abstract ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Begins a write transaction that serialises with other writers of the same rows.</summary>
    protected abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Called after a write transaction finished (committed or not), to release backend locks.</summary>
    protected virtual void EndWrite()
    {
    }

    /// <summary>Value bound for a timestamp column.</summary>
    protected abstract object TimestampValue(DateTime utc);

    /// <summary>Reads a timestamp column as UTC.</summary>
    protected abstract DateTime ReadTimestamp(DbDataReader reader, int ordinal);

    /// <summary>True when the failure may go away by itself (retry the unit of work).</summary>
    protected abstract bool IsTransient(Exception exception);

    /// <summary>Called after a transient error, before the back-off (e.g. to drop dead pooled connections).</summary>
    protected virtual ValueTask OnTransientErrorAsync(Exception exception) => ValueTask.CompletedTask;

    /// <summary>Turns a final failure into the exception the caller sees.</summary>
    protected abstract Exception Translate(Exception exception, bool transientBudgetExhausted);

    /// <summary>Inserts the accepted samples (<paramref name="accepted"/> indexes into <paramref name="samples"/>) with rowids from <paramref name="firstRowid"/>.</summary>
    protected abstract Task InsertSamplesAsync(DbConnection connection, DbTransaction transaction, string uid, long firstRowid, ReadOnlyMemory<Sample> samples, int[] accepted, int acceptedCount, CancellationToken cancellationToken);

    /// <summary>Writes score updates; returns the number of rows matched.</summary>
    protected abstract Task<int> UpdateScoresCoreAsync(DbConnection connection, DbTransaction transaction, string uid, ReadOnlyMemory<ScoreUpdate> updates, CancellationToken cancellationToken);

    /// <inheritdoc/>
    public abstract ValueTask DisposeAsync();

    /// <summary>Rounds to the nearest whole second, as MySQL does when it stores a DATETIME.</summary>
    internal static DateTime RoundToSecond(DateTime timestamp)
    {
        var utc = timestamp.Kind == DateTimeKind.Local ? timestamp.ToUniversalTime() : timestamp;
        var ticks = utc.Ticks + (TimeSpan.TicksPerSecond / 2);
        return new DateTime(ticks - (ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
    }

    /// <summary>Whole seconds since 1970-01-01 UTC (the SQLite representation of DATETIME).</summary>
    internal static long ToUnixSeconds(DateTime utc) => (utc.Ticks - s_unixEpochTicks) / TimeSpan.TicksPerSecond;

    /// <summary>Inverse of <see cref="ToUnixSeconds"/>.</summary>
    internal static DateTime FromUnixSeconds(long seconds) => new(s_unixEpochTicks + (seconds * TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    // ---------------------------------------------------------------- units of work

    /// <summary>
    /// Runs the backend's migrations on a fresh repository and returns it ready; on failure the repository is
    /// disposed before the error propagates, so a failed open leaks no pool.
    /// </summary>
    protected static async Task<TRepository> MigrateOrDisposeAsync<TRepository>(
        TRepository repository,
        Func<DbConnection, TRepository, CancellationToken, Task<int>> migrate,
        CancellationToken cancellationToken)
        where TRepository : SqlMetricRepository
    {
        try
        {
            repository.SchemaVersion = await repository.ReadAsync(repository, migrate, cancellationToken).ConfigureAwait(false);
            StorageLog.SchemaReady(repository._logger, repository.Options.Describe(), repository.SchemaVersion);
            return repository;
        }
        catch
        {
            await repository.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a fresh connection (read-only work: no transaction) and
    /// retries it on transient errors within the retry budget.
    /// </summary>
    protected Task<TResult> ReadAsync<TState, TResult>(TState state, Func<DbConnection, TState, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
        => RunAsync(state, work, null, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in one write transaction and commits; on a transient error the
    /// transaction is rolled back and the whole unit runs again after a back-off. The attempt
    /// number (from 1) lets a unit recognise that an earlier attempt may have committed.
    /// </summary>
    protected Task<TResult> WriteAsync<TState, TResult>(TState state, Func<DbConnection, DbTransaction, TState, int, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
        => RunAsync<TState, TResult>(state, null, work, cancellationToken);

    private async Task<TResult> RunAsync<TState, TResult>(
        TState state,
        Func<DbConnection, TState, CancellationToken, Task<TResult>>? read,
        Func<DbConnection, DbTransaction, TState, int, CancellationToken, Task<TResult>>? write,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = Options.FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (read is not null)
                {
                    var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                    await using (connection.ConfigureAwait(false))
                    {
                        return await read(connection, state, cancellationToken).ConfigureAwait(false);
                    }
                }

                return await RunWriteOnceAsync(state, write!, attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not StorageException && ex is not OperationCanceledException)
            {
                if (!IsTransient(ex))
                {
                    throw Translate(ex, transientBudgetExhausted: false);
                }

                await OnTransientErrorAsync(ex).ConfigureAwait(false);
                var elapsed = Stopwatch.GetElapsedTime(started);
                if (elapsed + delay > Options.RetryBudget)
                {
                    throw Translate(ex, transientBudgetExhausted: true);
                }

                StorageLog.RetryingTransient(_logger, Options.Describe(), attempt, OneLine(ex), (long)delay.TotalMilliseconds);
                await Task.Delay(Jitter(delay), cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Options.MaxRetryDelay.Ticks));
            }
        }
    }

    private async Task<TResult> RunWriteOnceAsync<TState, TResult>(
        TState state,
        Func<DbConnection, DbTransaction, TState, int, CancellationToken, Task<TResult>> write,
        int attempt,
        CancellationToken cancellationToken)
    {
        var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            try
            {
                var result = await write(connection, transaction, state, attempt, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch
            {
                await TryRollbackAsync(transaction).ConfigureAwait(false);
                throw;
            }
            finally
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                EndWrite();
            }
        }
    }

    private static async Task TryRollbackAsync(DbTransaction transaction)
    {
        try
        {
            await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the original failure is what the caller must see; a dead connection rolls back by itself
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static TimeSpan Jitter(TimeSpan delay)
        => TimeSpan.FromTicks((long)(delay.Ticks * (0.75 + (Random.Shared.NextDouble() * 0.5))));

    /// <summary>The exception's message on one line (messages from drivers may span lines).</summary>
    protected static string OneLine(Exception exception) => exception.Message.ReplaceLineEndings(" ");

    // ---------------------------------------------------------------- helpers

    protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    protected static DbParameter Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return parameter;
    }

    private object? NullableTimestamp(DateTime? value) => value is { } v ? TimestampValue(RoundToSecond(v)) : null;

    private MetricRow ReadMetric(DbDataReader r) => new(
        r.GetString(0),
        r.IsDBNull(1) ? null : r.GetString(1),
        r.IsDBNull(2) ? null : r.GetString(2),
        r.IsDBNull(3) ? null : r.GetString(3),
        r.IsDBNull(4) ? null : r.GetString(4),
        r.IsDBNull(5) ? null : r.GetString(5),
        r.IsDBNull(6) ? null : r.GetString(6),
        r.IsDBNull(7) ? MetricStatus.Unmonitored : (MetricStatus)Convert.ToInt32(r.GetValue(7), CultureInfo.InvariantCulture),
        r.IsDBNull(8) ? null : r.GetString(8),
        r.IsDBNull(9) ? null : r.GetString(9),
        r.IsDBNull(10) ? null : ReadTimestamp(r, 10),
        r.IsDBNull(11) ? null : Convert.ToInt32(r.GetValue(11), CultureInfo.InvariantCulture),
        r.IsDBNull(12) ? null : r.GetString(12),
        r.IsDBNull(13) ? null : r.GetString(13),
        r.IsDBNull(14) ? 0 : Convert.ToInt64(r.GetValue(14), CultureInfo.InvariantCulture));

    private async Task<List<MetricRow>> ReadMetricsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var list = new List<MetricRow>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(ReadMetric(reader));
            }
        }

        return list;
    }

    private static MetricNotFoundException NotFound(string what) => new($"metric {what} not found");

    // ---------------------------------------------------------------- metric rows

    /// <inheritdoc/>
    public Task<MetricRow> CreateMetricAsync(NewMetric metric, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metric);
        var uid = metric.Uid ?? Guid.NewGuid().ToString("N");
        return WriteAsync(
            (Repo: this, Metric: metric, Uid: uid, Generated: metric.Uid is null),
            static async (c, tx, s, attempt, ct) =>
            {
                var existing = await s.Repo.TryGetMetricAsync(c, tx, s.Uid, lockRow: false, ct).ConfigureAwait(false);
                if (existing is not null)
                {
                    // A generated uid can only exist already if an earlier attempt committed.
                    if (s.Generated && attempt > 1)
                    {
                        return existing;
                    }

                    throw new StorageException($"metric uid '{s.Uid}' already exists");
                }

                await s.Repo.InsertMetricAsync(c, tx, s.Uid, s.Metric, ct).ConfigureAwait(false);
                return (await s.Repo.TryGetMetricAsync(c, tx, s.Uid, lockRow: false, ct).ConfigureAwait(false))!;
            },
            cancellationToken);
    }

    private async Task InsertMetricAsync(DbConnection c, DbTransaction tx, string uid, NewMetric m, CancellationToken ct)
    {
        using var cmd = Command(c, tx, "INSERT INTO metric (" + MetricColumns + ") VALUES (@uid, @datasource, @name, @description, @server, @location, @parameters, @status, @message, @collector_error, @last_timestamp, @poll_interval, @tag_name, @model_params, @last_rowid)");
        Add(cmd, "@uid", uid);
        Add(cmd, "@datasource", m.Datasource);
        Add(cmd, "@name", m.Name);
        Add(cmd, "@description", m.Description);
        Add(cmd, "@server", m.Server);
        Add(cmd, "@location", m.Location);
        Add(cmd, "@parameters", m.Parameters);
        Add(cmd, "@status", (int)m.Status);
        Add(cmd, "@message", m.Message);
        Add(cmd, "@collector_error", m.CollectorError);
        Add(cmd, "@last_timestamp", NullableTimestamp(m.LastTimestamp));
        Add(cmd, "@poll_interval", m.PollInterval);
        Add(cmd, "@tag_name", m.TagName);
        Add(cmd, "@model_params", m.ModelParams);
        Add(cmd, "@last_rowid", m.LastRowid);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private async Task<MetricRow?> TryGetMetricAsync(DbConnection c, DbTransaction? tx, string uid, bool lockRow, CancellationToken ct)
    {
        using var cmd = Command(c, tx, "SELECT " + MetricColumns + " FROM metric WHERE uid = @uid" + (lockRow ? ForUpdate : string.Empty));
        Add(cmd, "@uid", uid);
        var rows = await ReadMetricsAsync(cmd, ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private async Task<MetricRow?> TryGetCustomByNameAsync(DbConnection c, DbTransaction? tx, string name, CancellationToken ct)
    {
        using var cmd = Command(c, tx, "SELECT " + MetricColumns + " FROM metric WHERE datasource = 'custom' AND " + NameEqualsParameter + " ORDER BY uid LIMIT 1");
        Add(cmd, "@name", name);
        var rows = await ReadMetricsAsync(cmd, ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc/>
    public Task<(MetricRow Metric, bool Created)> GetOrCreateCustomMetricAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var uid = Guid.NewGuid().ToString("N");
        return WriteAsync(
            (Repo: this, Name: name, Uid: uid),
            static async (c, tx, s, attempt, ct) =>
            {
                // Creation of metrics is serialised on the lock row, as in htmengine.
                using (var lockCmd = Command(c, tx, "SELECT name FROM `lock` WHERE name = 'metrics'" + s.Repo.ForUpdate))
                {
                    await lockCmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
                }

                var existing = await s.Repo.TryGetCustomByNameAsync(c, tx, s.Name, ct).ConfigureAwait(false);
                if (existing is not null)
                {
                    // On a retry the row may be ours from an attempt whose commit was not acknowledged.
                    return (existing, attempt > 1 && existing.Uid == s.Uid);
                }

                await s.Repo.InsertMetricAsync(c, tx, s.Uid, NewMetric.Custom(s.Name), ct).ConfigureAwait(false);
                return ((await s.Repo.TryGetMetricAsync(c, tx, s.Uid, lockRow: false, ct).ConfigureAwait(false))!, true);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<MetricRow> GetMetricAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return ReadAsync(
            (Repo: this, Uid: uid),
            static async (c, s, ct) => await s.Repo.TryGetMetricAsync(c, null, s.Uid, lockRow: false, ct).ConfigureAwait(false) ?? throw NotFound("uid '" + s.Uid + "'"),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<MetricRow> GetCustomMetricByNameAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ReadAsync(
            (Repo: this, Name: name),
            static async (c, s, ct) => await s.Repo.TryGetCustomByNameAsync(c, null, s.Name, ct).ConfigureAwait(false) ?? throw NotFound("named '" + s.Name + "'"),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricRow>> ListMetricsAsync(string? datasource = null, MetricStatus? status = null, string? server = null, CancellationToken cancellationToken = default)
        => ReadAsync(
            (Repo: this, Datasource: datasource, Status: status, Server: server),
            static async (c, s, ct) =>
            {
                var sql = new StringBuilder("SELECT " + MetricColumns + " FROM metric WHERE 1 = 1");
                using var cmd = c.CreateCommand();
                if (s.Datasource is not null)
                {
                    sql.Append(" AND datasource = @datasource");
                    Add(cmd, "@datasource", s.Datasource);
                }

                if (s.Status is { } st)
                {
                    sql.Append(" AND status = @status");
                    Add(cmd, "@status", (int)st);
                }

                if (s.Server is not null)
                {
                    sql.Append(" AND server = @server");
                    Add(cmd, "@server", s.Server);
                }

                sql.Append(" ORDER BY name, uid");
                cmd.CommandText = sql.ToString();
                IReadOnlyList<MetricRow> rows = await s.Repo.ReadMetricsAsync(cmd, ct).ConfigureAwait(false);
                return rows;
            },
            cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricRow>> ListModelsAsync(CancellationToken cancellationToken = default)
        => ReadAsync(
            this,
            static async (c, repo, ct) =>
            {
                using var cmd = Command(c, null, "SELECT " + MetricColumns + " FROM metric WHERE status <> 0 ORDER BY name, uid");
                IReadOnlyList<MetricRow> rows = await repo.ReadMetricsAsync(cmd, ct).ConfigureAwait(false);
                return rows;
            },
            cancellationToken);

    /// <inheritdoc/>
    public Task SetMetricStatusAsync(string uid, MetricStatus status, string? message = null, MetricStatus? expectedStatus = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return WriteAsync(
            (Uid: uid, Status: status, Message: message, Expected: expectedStatus),
            static async (c, tx, s, attempt, ct) =>
            {
                using var cmd = Command(c, tx, s.Expected is null
                    ? "UPDATE metric SET status = @status, message = @message WHERE uid = @uid"
                    : "UPDATE metric SET status = @status, message = @message WHERE uid = @uid AND status = @expected");
                Add(cmd, "@status", (int)s.Status);
                Add(cmd, "@message", s.Message);
                Add(cmd, "@uid", s.Uid);
                if (s.Expected is { } e)
                {
                    Add(cmd, "@expected", (int)e);
                }

                if (await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                {
                    throw s.Expected is null
                        ? NotFound("uid '" + s.Uid + "'")
                        : NotFound("uid '" + s.Uid + "' with status " + s.Expected);
                }

                return true;
            },
            cancellationToken);
    }

    private Task SetColumnAsync(string uid, string sql, object? value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return WriteAsync(
            (Uid: uid, Sql: sql, Value: value),
            static async (c, tx, s, attempt, ct) =>
            {
                using var cmd = Command(c, tx, s.Sql);
                Add(cmd, "@value", s.Value);
                Add(cmd, "@uid", s.Uid);
                if (await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                {
                    throw NotFound("uid '" + s.Uid + "'");
                }

                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task SetModelParamsAsync(string uid, string? modelParams, CancellationToken cancellationToken = default)
        => SetColumnAsync(uid, "UPDATE metric SET model_params = @value WHERE uid = @uid", modelParams, cancellationToken);

    /// <inheritdoc/>
    public Task SetParametersAsync(string uid, string? parameters, CancellationToken cancellationToken = default)
        => SetColumnAsync(uid, "UPDATE metric SET parameters = @value WHERE uid = @uid", parameters, cancellationToken);

    /// <inheritdoc/>
    public Task SetLastTimestampAsync(string uid, DateTime? lastTimestamp, CancellationToken cancellationToken = default)
        => SetColumnAsync(uid, "UPDATE metric SET last_timestamp = @value WHERE uid = @uid", NullableTimestamp(lastTimestamp), cancellationToken);

    /// <inheritdoc/>
    public Task SetCollectorErrorAsync(string uid, string? collectorError, CancellationToken cancellationToken = default)
        => SetColumnAsync(uid, "UPDATE metric SET collector_error = @value WHERE uid = @uid", collectorError, cancellationToken);

    /// <inheritdoc/>
    public Task DeleteMetricAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return WriteAsync(
            uid,
            static async (c, tx, u, attempt, ct) =>
            {
                using var cmd = Command(c, tx, "DELETE FROM metric WHERE uid = @uid");
                Add(cmd, "@uid", u);
                // On a retry an earlier attempt may have committed the delete.
                if (await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0 && attempt == 1)
                {
                    throw NotFound("uid '" + u + "'");
                }

                return true;
            },
            cancellationToken);
    }

    // ---------------------------------------------------------------- samples

    /// <inheritdoc/>
    public Task<StoreSamplesResult> StoreSamplesAsync(string uid, ReadOnlyMemory<Sample> samples, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return WriteAsync((Repo: this, Uid: uid, Samples: samples, Attempts: new StoreAttempts()), static (c, tx, s, attempt, ct) => s.Repo.StoreOnceAsync(c, tx, s.Uid, s.Samples, s.Attempts, ct), cancellationToken);
    }

    /// <summary>What the previous attempt of one StoreSamples call was about to commit.</summary>
    private sealed class StoreAttempts
    {
        public StoreSamplesResult? Pending { get; set; }

        public object? FirstTimestamp { get; set; }
    }

    private async Task<StoreSamplesResult> StoreOnceAsync(DbConnection c, DbTransaction tx, string uid, ReadOnlyMemory<Sample> samples, StoreAttempts attempts, CancellationToken ct)
    {
        MetricStatus status;
        long next;
        DateTime? tail = null;
        using (var cmd = Command(
            c,
            tx,
            "SELECT m.status, m.last_rowid, (SELECT MAX(d.rowid) FROM metric_data d WHERE d.uid = m.uid), " +
            "(SELECT t.timestamp FROM metric_data t WHERE t.uid = m.uid ORDER BY t.rowid DESC LIMIT 1) " +
            "FROM metric m WHERE m.uid = @uid" + ForUpdate))
        {
            Add(cmd, "@uid", uid);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw NotFound("uid '" + uid + "'");
                }

                status = reader.IsDBNull(0) ? MetricStatus.Unmonitored : (MetricStatus)Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture);
                var lastRowid = reader.IsDBNull(1) ? 0L : Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
                var maxRowid = reader.IsDBNull(2) ? 0L : Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture);

                // Rowids are never reused: continue after the larger of the counter and the data.
                next = Math.Max(lastRowid, maxRowid) + 1;
                if (!reader.IsDBNull(3))
                {
                    tail = ReadTimestamp(reader, 3);
                }
            }
        }

        // A retry after a commit whose acknowledgement was lost: if exactly the rows the previous
        // attempt inserted are there, that attempt committed; report its outcome instead of
        // calling the same samples duplicates.
        if (attempts.Pending is { StoredCount: > 0 } pending && next == pending.FirstRowid + pending.StoredCount
            && await PendingCommittedAsync(c, tx, uid, pending.FirstRowid, attempts.FirstTimestamp!, ct).ConfigureAwait(false))
        {
            return pending;
        }

        var count = samples.Length;
        var outcomes = new SampleOutcome[count];
        if (count == 0)
        {
            return new StoreSamplesResult(status, next, 0, outcomes);
        }

        if (status == MetricStatus.Error)
        {
            Array.Fill(outcomes, SampleOutcome.MetricInError);
            LogRejections(uid, outcomes, 0);
            return new StoreSamplesResult(status, next, 0, outcomes);
        }

        var accepted = ArrayPool<int>.Shared.Rent(count);
        try
        {
            var acceptedCount = Scrub(samples.Span, tail, outcomes, accepted);
            var result = new StoreSamplesResult(status, next, acceptedCount, outcomes);
            if (acceptedCount > 0)
            {
                attempts.Pending = result;
                attempts.FirstTimestamp = TimestampValue(RoundToSecond(samples.Span[accepted[0]].Timestamp));
                await InsertSamplesAsync(c, tx, uid, next, samples, accepted, acceptedCount, ct).ConfigureAwait(false);
                using var update = Command(c, tx, "UPDATE metric SET last_rowid = @last WHERE uid = @uid");
                Add(update, "@last", next + acceptedCount - 1);
                Add(update, "@uid", uid);
                await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            if (acceptedCount != count)
            {
                LogRejections(uid, outcomes, acceptedCount);
            }

            return result;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(accepted);
        }
    }

    private async Task<bool> PendingCommittedAsync(DbConnection c, DbTransaction tx, string uid, long firstRowid, object firstTimestamp, CancellationToken ct)
    {
        using var cmd = Command(c, tx, "SELECT COUNT(*) FROM metric_data WHERE uid = @uid AND rowid = @rowid AND timestamp = @timestamp");
        Add(cmd, "@uid", uid);
        Add(cmd, "@rowid", firstRowid);
        Add(cmd, "@timestamp", firstTimestamp);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture) == 1;
    }

    /// <summary>
    /// htmengine's scrub: keep a sample only when it is newer than the previous accepted one (or the
    /// stored tail). Timestamps are compared as stored, rounded to whole seconds.
    /// </summary>
    internal static int Scrub(ReadOnlySpan<Sample> samples, DateTime? tail, SampleOutcome[] outcomes, int[] accepted)
    {
        var previous = tail?.Ticks ?? long.MinValue;
        var n = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var value = samples[i].Value;
            if (!double.IsFinite(value))
            {
                outcomes[i] = SampleOutcome.InvalidValue;
                continue;
            }

            var ticks = RoundToSecond(samples[i].Timestamp).Ticks;
            if (ticks < previous)
            {
                outcomes[i] = SampleOutcome.OutOfOrder;
            }
            else if (ticks == previous)
            {
                outcomes[i] = SampleOutcome.Duplicate;
            }
            else
            {
                outcomes[i] = SampleOutcome.Stored;
                accepted[n++] = i;
                previous = ticks;
            }
        }

        return n;
    }

    private void LogRejections(string uid, SampleOutcome[] outcomes, int stored)
    {
        if (!_logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        int duplicates = 0, outOfOrder = 0, invalid = 0, inError = 0;
        foreach (var o in outcomes)
        {
            switch (o)
            {
                case SampleOutcome.Duplicate: duplicates++; break;
                case SampleOutcome.OutOfOrder: outOfOrder++; break;
                case SampleOutcome.InvalidValue: invalid++; break;
                case SampleOutcome.MetricInError: inError++; break;
                default: break;
            }
        }

        StorageLog.SamplesRejected(_logger, uid, outcomes.Length - stored, outcomes.Length, duplicates, outOfOrder, invalid, inError);
    }

    /// <inheritdoc/>
    public Task<int> UpdateScoresAsync(string uid, ReadOnlyMemory<ScoreUpdate> updates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        if (updates.IsEmpty)
        {
            return Task.FromResult(0);
        }

        return WriteAsync((Repo: this, Uid: uid, Updates: updates), static (c, tx, s, attempt, ct) => s.Repo.UpdateScoresCoreAsync(c, tx, s.Uid, s.Updates, ct), cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<MetricDataRow>> GetMetricDataAsync(MetricDataQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync((Repo: this, Query: query), static (c, s, ct) => s.Repo.QueryDataAsync(c, s.Query, ct), cancellationToken);
    }

    private async Task<IReadOnlyList<MetricDataRow>> QueryDataAsync(DbConnection c, MetricDataQuery q, CancellationToken ct)
    {
        // Only fixed fragments are concatenated; every value travels as a parameter.
        var f = q.Fields;
        var sql = new StringBuilder("SELECT uid, rowid");
        sql.Append(f.HasFlag(MetricDataFields.Timestamp) ? ", timestamp" : ", NULL");
        sql.Append(f.HasFlag(MetricDataFields.MetricValue) ? ", metric_value" : ", NULL");
        sql.Append(f.HasFlag(MetricDataFields.RawAnomalyScore) ? ", raw_anomaly_score" : ", NULL");
        sql.Append(f.HasFlag(MetricDataFields.AnomalyScore) ? ", anomaly_score" : ", NULL");
        sql.Append(f.HasFlag(MetricDataFields.DisplayValue) ? ", display_value" : ", NULL");
        sql.Append(f.HasFlag(MetricDataFields.MultiStepBestPredictions) ? ", multi_step_best_predictions" : ", NULL");
        sql.Append(" FROM metric_data WHERE 1 = 1");
        using var cmd = c.CreateCommand();
        if (q.Uid is not null)
        {
            sql.Append(" AND uid = @uid");
            Add(cmd, "@uid", q.Uid);
        }

        if (q.Rowid is { } rowid)
        {
            sql.Append(" AND rowid = @rowid");
            Add(cmd, "@rowid", rowid);
        }

        if (q.StartRowid is { } start)
        {
            sql.Append(" AND rowid >= @start");
            Add(cmd, "@start", start);
        }

        if (q.StopRowid is { } stop)
        {
            sql.Append(" AND rowid <= @stop");
            Add(cmd, "@stop", stop);
        }

        if (q.FromTimestamp is { } from)
        {
            sql.Append(" AND timestamp >= @from");
            Add(cmd, "@from", TimestampValue(RoundToSecond(from)));
        }

        if (q.ToTimestamp is { } to)
        {
            sql.Append(" AND timestamp <= @to");
            Add(cmd, "@to", TimestampValue(RoundToSecond(to)));
        }

        if (q.MinScore is { } score)
        {
            if (score > 0)
            {
                sql.Append(" AND anomaly_score >= @score");
                Add(cmd, "@score", score);
            }
            else
            {
                sql.Append(" AND anomaly_score IS NOT NULL");
            }
        }

        sql.Append(q.Sort switch
        {
            MetricDataSort.RowidDescending => " ORDER BY uid DESC, rowid DESC",
            MetricDataSort.TimestampAscending => " ORDER BY timestamp ASC, uid ASC, rowid ASC",
            MetricDataSort.TimestampDescending => " ORDER BY timestamp DESC, uid DESC, rowid DESC",
            MetricDataSort.AnomalyScoreDescending => " ORDER BY anomaly_score DESC, uid ASC, rowid ASC",
            MetricDataSort.DisplayValueDescending => " ORDER BY display_value DESC, uid ASC, rowid ASC",
            _ => " ORDER BY uid ASC, rowid ASC",
        });

        if (q.Limit is { } limit)
        {
            sql.Append(" LIMIT @limit");
            Add(cmd, "@limit", Math.Max(0, limit));
        }
        else if (q.Offset is not null)
        {
            sql.Append(" LIMIT ").Append(NoLimit);
        }

        if (q.Offset is { } offset)
        {
            sql.Append(" OFFSET @offset");
            Add(cmd, "@offset", Math.Max(0, offset));
        }

        cmd.CommandText = sql.ToString();
        return await ReadDataRowsAsync(cmd, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<long> GetMetricDataCountAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return ReadAsync(
            uid,
            static async (c, u, ct) =>
            {
                using var cmd = Command(c, null, "SELECT COUNT(*) FROM metric_data WHERE uid = @uid");
                Add(cmd, "@uid", u);
                return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<(double Min, double Max)?> GetMetricStatsAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        return ReadAsync(
            uid,
            static async (c, u, ct) =>
            {
                using var cmd = Command(c, null, "SELECT MIN(metric_value), MAX(metric_value) FROM metric_data WHERE uid = @uid");
                Add(cmd, "@uid", u);
                var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync(ct).ConfigureAwait(false) || reader.IsDBNull(0))
                    {
                        return ((double Min, double Max)?)null;
                    }

                    return (reader.GetDouble(0), reader.GetDouble(1));
                }
            },
            cancellationToken);
    }
}
