using System.Buffers;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace HtmEngine.Storage.Internal;

/// <summary>The repository on MySQL/MariaDB through MySqlConnector's <see cref="MySqlDataSource"/>.</summary>
internal sealed partial class MySqlMetricRepository : SqlMetricRepository
{
    /// <summary>Rows per multi-row INSERT statement (4 parameters each, far below the 65,535 limit).</summary>
    internal const int InsertChunk = 1000;

    /// <summary>Rows per UPDATE … JOIN statement of <see cref="UpdateScoresCoreAsync"/>.</summary>
    internal const int UpdateChunk = 500;

    private static readonly ConcurrentDictionary<int, string> s_insertSql = new();
    private static readonly ConcurrentDictionary<int, string> s_updateSql = new();
    private static readonly ConcurrentDictionary<int, string> s_updateManySql = new();

    private readonly MySqlDataSource _dataSource;

    private MySqlMetricRepository(StorageOptions options, ILogger logger, MySqlDataSource dataSource)
        : base(options, logger)
    {
        _dataSource = dataSource;
    }

    /// <inheritdoc/>
    public override string Backend => "mysql";

    protected override string ForUpdate => " FOR UPDATE";

    // Metric names are case-sensitive (Graphite paths); the table keeps its default collation.
    protected override string NameEqualsParameter => "name = CAST(@name AS BINARY)";

    protected override string NoLimit => "18446744073709551615";

    /// <summary>The connection string for <paramref name="options"/>; <paramref name="withDatabase"/> false connects to the server only.</summary>
    internal static string ConnectionString(StorageOptions options, bool withDatabase)
    {
        var builder = new MySqlConnectionStringBuilder
        {
            Server = options.Host,
            Port = (uint)options.Port,
            UserID = options.User,
            Password = options.Password,
            AllowLoadLocalInfile = true,
            SslMode = IsLoopback(options.Host) ? MySqlSslMode.None : MySqlSslMode.Preferred,
            MaximumPoolSize = (uint)Math.Max(1, options.MaxPoolSize),
            ConnectionTimeout = (uint)Math.Max(1, options.ConnectTimeout.TotalSeconds),
            DefaultCommandTimeout = 60,
            CharacterSet = "utf8mb4",
            Pooling = true,
        };
        if (withDatabase)
        {
            builder.Database = options.Database;
        }

        return builder.ConnectionString;
    }

    private static bool IsLoopback(string host)
        => host is "localhost" or "127.0.0.1" or "::1" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>Connects (creating the database when missing), migrates the schema and returns the repository.</summary>
    public static async Task<MySqlMetricRepository> OpenAsync(StorageOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var dataSource = new MySqlDataSource(ConnectionString(options, withDatabase: true));
        var repository = new MySqlMetricRepository(options, logger, dataSource);
        return await MigrateOrDisposeAsync(
            repository,
            static (c, r, ct) => MySqlSchema.MigrateAsync((MySqlConnection)c, r.Options, r.Logger, ct),
            cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException ex) when (ex.ErrorCode == MySqlErrorCode.UnknownDatabase)
        {
            await CreateDatabaseAsync(cancellationToken).ConfigureAwait(false);
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var server = new MySqlConnection(ConnectionString(Options, withDatabase: false));
        await using (server.ConfigureAwait(false))
        {
            await server.OpenAsync(cancellationToken).ConfigureAwait(false);
            // A database name cannot be a parameter; it comes from the operator's configuration and
            // is quoted as an identifier (backticks doubled).
            using var cmd = server.CreateCommand();
            cmd.CommandText = "CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(Options.Database) + " CHARACTER SET utf8mb4";
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        StorageLog.DatabaseCreated(Logger, Options.Describe());
    }

    internal static string QuoteIdentifier(string name) => "`" + name.Replace("`", "``", StringComparison.Ordinal) + "`";

    protected override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
        => await ((MySqlConnection)connection).BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    protected override object TimestampValue(DateTime utc) => DateTime.SpecifyKind(utc, DateTimeKind.Unspecified);

    protected override DateTime ReadTimestamp(DbDataReader reader, int ordinal) => DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc);

    protected override bool IsTransient(Exception exception) => MySqlErrors.IsTransient(exception);

    protected override async ValueTask OnTransientErrorAsync(Exception exception)
    {
        // After a server restart every pooled connection is dead; drop them instead of failing on each.
        if (MySqlErrors.IsConnectionFailure(exception))
        {
            await MySqlConnection.ClearAllPoolsAsync().ConfigureAwait(false);
        }
    }

    protected override Exception Translate(Exception exception, bool transientBudgetExhausted)
        => MySqlErrors.Translate(exception, Options, transientBudgetExhausted);

    public override async ValueTask DisposeAsync() => await _dataSource.DisposeAsync().ConfigureAwait(false);

    // ---------------------------------------------------------------- inserts

    protected override async Task InsertSamplesAsync(DbConnection connection, DbTransaction transaction, string uid, long firstRowid, ReadOnlyMemory<Sample> samples, int[] accepted, int acceptedCount, CancellationToken cancellationToken)
    {
        var mysql = (MySqlConnection)connection;
        var tx = (MySqlTransaction)transaction;

        // The parent metric row is locked FOR UPDATE by this transaction, so every inserted row's
        // foreign key is known to hold: skip InnoDB's per-row parent lookup for this insert. On
        // failure the connection goes back to the pool, whose reset restores the session default.
        await SetForeignKeyChecksAsync(mysql, tx, false, cancellationToken).ConfigureAwait(false);
        if (Options.InsertMethod == MySqlInsertMethod.BulkLoad)
        {
            await BulkLoadAsync(mysql, uid, firstRowid, samples, accepted, acceptedCount, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await MultiRowInsertAsync(mysql, tx, uid, firstRowid, samples, accepted, acceptedCount, cancellationToken).ConfigureAwait(false);
        }

        await SetForeignKeyChecksAsync(mysql, tx, true, cancellationToken).ConfigureAwait(false);
    }

    private static async Task SetForeignKeyChecksAsync(MySqlConnection connection, MySqlTransaction transaction, bool on, CancellationToken cancellationToken)
    {
        using var cmd = new MySqlCommand(on ? "SET SESSION foreign_key_checks = 1" : "SET SESSION foreign_key_checks = 0", connection, transaction);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task MultiRowInsertAsync(MySqlConnection connection, MySqlTransaction transaction, string uid, long firstRowid, ReadOnlyMemory<Sample> samples, int[] accepted, int acceptedCount, CancellationToken cancellationToken)
    {
        for (var offset = 0; offset < acceptedCount; offset += InsertChunk)
        {
            var n = Math.Min(InsertChunk, acceptedCount - offset);
            using var cmd = new MySqlCommand(s_insertSql.GetOrAdd(n, BuildInsertSql), connection, transaction);
            var parameters = cmd.Parameters;
            var span = samples.Span;
            parameters.AddWithValue("@u", uid);
            for (var i = 0; i < n; i++)
            {
                var sample = span[accepted[offset + i]];
                parameters.Add(new MySqlParameter { ParameterName = RowName('r', i), MySqlDbType = MySqlDbType.Int64, Value = firstRowid + offset + i });
                parameters.Add(new MySqlParameter { ParameterName = RowName('t', i), MySqlDbType = MySqlDbType.DateTime, Value = DateTime.SpecifyKind(RoundToSecond(sample.Timestamp), DateTimeKind.Unspecified) });
                parameters.Add(new MySqlParameter { ParameterName = RowName('v', i), MySqlDbType = MySqlDbType.Double, Value = sample.Value });
            }

            var inserted = await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (inserted != n)
            {
                throw new StorageException($"metric {uid}: inserted {inserted} of {n} rows");
            }
        }
    }

    private static readonly string[] s_rowNames = BuildRowNames();

    private static string[] BuildRowNames()
    {
        var names = new string[3 * Math.Max(InsertChunk, UpdateChunk)];
        for (var i = 0; i < names.Length / 3; i++)
        {
            names[3 * i] = "@r" + i.ToString(CultureInfo.InvariantCulture);
            names[(3 * i) + 1] = "@t" + i.ToString(CultureInfo.InvariantCulture);
            names[(3 * i) + 2] = "@v" + i.ToString(CultureInfo.InvariantCulture);
        }

        return names;
    }

    private static string RowName(char kind, int i) => s_rowNames[(3 * i) + (kind == 'r' ? 0 : kind == 't' ? 1 : 2)];

    private static string BuildInsertSql(int rows)
    {
        var sql = new StringBuilder("INSERT INTO metric_data (uid, rowid, timestamp, metric_value) VALUES ", 32 * rows + 80);
        for (var i = 0; i < rows; i++)
        {
            if (i > 0)
            {
                sql.Append(',');
            }

            sql.Append("(@u,@r").Append(i).Append(",@t").Append(i).Append(",@v").Append(i).Append(')');
        }

        return sql.ToString();
    }

    /// <summary>
    /// <c>LOAD DATA LOCAL INFILE</c> of <c>uid, rowid, timestamp, metric_value</c> lines (tab-separated) into
    /// <c>metric_data</c> on the connection's open transaction; returns the number of rows the server stored.
    /// </summary>
    private static async Task<int> LoadMetricDataTsvAsync(MySqlConnection connection, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(buffer, 0, length, writable: false);
        var loader = new MySqlBulkLoader(connection)
        {
            Local = true,
            SourceStream = stream,
            TableName = "metric_data",
            FieldTerminator = "\t",
            LineTerminator = "\n",
            CharacterSet = "utf8mb4",
            ConflictOption = MySqlBulkLoaderConflictOption.None,
        };
        loader.Columns.Add("uid");
        loader.Columns.Add("rowid");
        loader.Columns.Add("timestamp");
        loader.Columns.Add("metric_value");
        return await loader.LoadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// LOAD DATA LOCAL INFILE from a tab-separated buffer built here. The statement runs on the
    /// connection inside the open transaction, so it commits or rolls back with it.
    /// </summary>
    private static async Task BulkLoadAsync(MySqlConnection connection, string uid, long firstRowid, ReadOnlyMemory<Sample> samples, int[] accepted, int acceptedCount, CancellationToken cancellationToken)
    {
        var escapedUid = EscapeTsv(uid);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(4096, acceptedCount * (escapedUid.Length + 64)));
        try
        {
            var length = WriteTsv(buffer, escapedUid, firstRowid, samples.Span, accepted, acceptedCount);
            var loaded = await LoadMetricDataTsvAsync(connection, buffer, length, cancellationToken).ConfigureAwait(false);
            if (loaded != acceptedCount)
            {
                throw new StorageException($"metric {uid}: bulk load stored {loaded} of {acceptedCount} rows");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static int WriteTsv(byte[] buffer, byte[] uid, long firstRowid, ReadOnlySpan<Sample> samples, int[] accepted, int acceptedCount) =>
        WriteTsvAt(buffer, uid, firstRowid, samples, accepted, acceptedCount);

    /// <summary>The uid as UTF-8 with the bulk format's special characters escaped (backslash, tab, newline).</summary>
    internal static byte[] EscapeTsv(string value)
    {
        var escaped = value.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\t", "\\t", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\r", "\\r", StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(escaped);
    }

    // ---------------------------------------------------------------- score updates

    protected override async Task<int> UpdateScoresCoreAsync(DbConnection connection, DbTransaction transaction, string uid, ReadOnlyMemory<ScoreUpdate> updates, CancellationToken cancellationToken)
    {
        var matched = 0;
        for (var offset = 0; offset < updates.Length; offset += UpdateChunk)
        {
            var n = Math.Min(UpdateChunk, updates.Length - offset);
            using var cmd = new MySqlCommand(s_updateSql.GetOrAdd(n, BuildUpdateSql), (MySqlConnection)connection, (MySqlTransaction)transaction);
            var parameters = cmd.Parameters;
            parameters.AddWithValue("@uid", uid);
            var span = updates.Span.Slice(offset, n);
            for (var i = 0; i < n; i++)
            {
                var u = span[i];
                var suffix = i.ToString(CultureInfo.InvariantCulture);
                parameters.Add(new MySqlParameter { ParameterName = "@r" + suffix, MySqlDbType = MySqlDbType.Int64, Value = u.Rowid });
                parameters.Add(new MySqlParameter { ParameterName = "@a" + suffix, MySqlDbType = MySqlDbType.Double, Value = u.RawAnomalyScore is { } a ? a : DBNull.Value });
                parameters.Add(new MySqlParameter { ParameterName = "@s" + suffix, MySqlDbType = MySqlDbType.Double, Value = u.AnomalyScore is { } s ? s : DBNull.Value });
                parameters.Add(new MySqlParameter { ParameterName = "@d" + suffix, MySqlDbType = MySqlDbType.Int32, Value = u.DisplayValue is { } d ? d : DBNull.Value });
                parameters.Add(new MySqlParameter { ParameterName = "@p" + suffix, MySqlDbType = MySqlDbType.Text, Value = (object?)u.MultiStepBestPredictions ?? DBNull.Value });
            }

            matched += await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return matched;
    }

    /// <inheritdoc/>
    protected override async Task WriteAnomalyBatchCoreAsync(DbConnection c, DbTransaction tx, List<(string Uid, ReadOnlyMemory<ScoreUpdate> Updates, string ModelParams)> writes, CancellationToken ct)
    {
        // Scores of all metrics: one UPDATE … JOIN per UpdateChunk rows, whatever metrics they belong to.
        var connection = (MySqlConnection)c;
        var transaction = (MySqlTransaction)tx;
        MySqlCommand? cmd = null;
        var n = 0;
        try
        {
            foreach (var (uid, updates, _) in writes)
            {
                for (var i = 0; i < updates.Length; i++)
                {
                    if (n == 0)
                    {
                        cmd = new MySqlCommand(null, connection, transaction);
                    }

                    var u = updates.Span[i];
                    var suffix = n.ToString(CultureInfo.InvariantCulture);
                    var parameters = cmd!.Parameters;
                    parameters.Add(new MySqlParameter { ParameterName = "@u" + suffix, MySqlDbType = MySqlDbType.VarString, Value = uid });
                    parameters.Add(new MySqlParameter { ParameterName = "@r" + suffix, MySqlDbType = MySqlDbType.Int64, Value = u.Rowid });
                    parameters.Add(new MySqlParameter { ParameterName = "@a" + suffix, MySqlDbType = MySqlDbType.Double, Value = u.RawAnomalyScore is { } a ? a : DBNull.Value });
                    parameters.Add(new MySqlParameter { ParameterName = "@s" + suffix, MySqlDbType = MySqlDbType.Double, Value = u.AnomalyScore is { } sc ? sc : DBNull.Value });
                    parameters.Add(new MySqlParameter { ParameterName = "@d" + suffix, MySqlDbType = MySqlDbType.Int32, Value = u.DisplayValue is { } d ? d : DBNull.Value });
                    parameters.Add(new MySqlParameter { ParameterName = "@p" + suffix, MySqlDbType = MySqlDbType.Text, Value = (object?)u.MultiStepBestPredictions ?? DBNull.Value });
                    if (++n == UpdateChunk)
                    {
                        cmd.CommandText = s_updateManySql.GetOrAdd(n, BuildUpdateManySql);
                        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                        cmd.Dispose();
                        cmd = null;
                        n = 0;
                    }
                }
            }

            if (n > 0)
            {
                cmd!.CommandText = s_updateManySql.GetOrAdd(n, BuildUpdateManySql);
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }
        finally
        {
            cmd?.Dispose();
        }

        // model_params of all metrics: one UPDATE … JOIN per 200 metrics.
        for (var offset = 0; offset < writes.Count; offset += 200)
        {
            var m = Math.Min(200, writes.Count - offset);
            var sql = new StringBuilder("UPDATE metric t JOIN (", 64 * m + 120);
            using var update = new MySqlCommand(null, connection, transaction);
            for (var i = 0; i < m; i++)
            {
                var suffix = i.ToString(CultureInfo.InvariantCulture);
                sql.Append(i == 0 ? "SELECT @u0 AS uid, @m0 AS mp" : " UNION ALL SELECT @u" + suffix + ", @m" + suffix);
                update.Parameters.Add(new MySqlParameter { ParameterName = "@u" + suffix, MySqlDbType = MySqlDbType.VarString, Value = writes[offset + i].Uid });
                update.Parameters.Add(new MySqlParameter { ParameterName = "@m" + suffix, MySqlDbType = MySqlDbType.Text, Value = writes[offset + i].ModelParams });
            }

            update.CommandText = sql.Append(") x ON t.uid = x.uid SET t.model_params = x.mp").ToString();
            await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    private static string BuildUpdateManySql(int rows)
    {
        // As BuildUpdateSql, with the metric's uid in every row of the derived table.
        var sql = new StringBuilder("UPDATE metric_data d JOIN (", 140 * rows + 300);
        for (var i = 0; i < rows; i++)
        {
            if (i == 0)
            {
                sql.Append("SELECT @u0 AS uid, CAST(@r0 AS SIGNED) AS rowid, CAST(@a0 AS DOUBLE) AS raw, CAST(@s0 AS DOUBLE) AS score, CAST(@d0 AS SIGNED) AS display, CAST(@p0 AS CHAR) AS predictions");
            }
            else
            {
                sql.Append(" UNION ALL SELECT @u").Append(i).Append(", @r").Append(i).Append(", @a").Append(i).Append(", @s").Append(i).Append(", @d").Append(i).Append(", @p").Append(i);
            }
        }

        sql.Append(") u ON d.uid = u.uid AND d.rowid = u.rowid SET d.raw_anomaly_score = u.raw, d.anomaly_score = u.score, d.display_value = u.display, d.multi_step_best_predictions = u.predictions");
        return sql.ToString();
    }

    private static string BuildUpdateSql(int rows)
    {
        // A derived table of the new values joined on the primary key: one statement per chunk.
        // CAST pins the column types even when the first row's values are NULL.
        var sql = new StringBuilder("UPDATE metric_data d JOIN (", 120 * rows + 300);
        for (var i = 0; i < rows; i++)
        {
            if (i == 0)
            {
                sql.Append("SELECT CAST(@r0 AS SIGNED) AS rowid, CAST(@a0 AS DOUBLE) AS raw, CAST(@s0 AS DOUBLE) AS score, CAST(@d0 AS SIGNED) AS display, CAST(@p0 AS CHAR) AS predictions");
            }
            else
            {
                sql.Append(" UNION ALL SELECT @r").Append(i).Append(", @a").Append(i).Append(", @s").Append(i).Append(", @d").Append(i).Append(", @p").Append(i);
            }
        }

        sql.Append(") u ON d.uid = @uid AND d.rowid = u.rowid SET d.raw_anomaly_score = u.raw, d.anomaly_score = u.score, d.display_value = u.display, d.multi_step_best_predictions = u.predictions");
        return sql.ToString();
    }
}

/// <summary>Classification of MySqlConnector failures.</summary>
internal static class MySqlErrors
{
    /// <summary>
    /// Transient: what MySqlConnector marks transient (deadlock, lock wait timeout, too many
    /// connections, cannot connect), the server and client codes htmengine retried (table
    /// definition changed, server gone, lost connection, server shutdown, connection killed) and
    /// any network failure underneath.
    /// </summary>
    public static bool IsTransient(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case MySqlException m:
                    if (m.IsTransient)
                    {
                        return true;
                    }

                    switch ((int)m.ErrorCode)
                    {
                        case 1040: // too many connections
                        case 1042: // unable to connect
                        case 1053: // server shutdown in progress
                        case 1205: // lock wait timeout
                        case 1213: // deadlock
                        case 1412: // table definition changed
                        case 1927: // MariaDB: connection killed
                        case 2002:
                        case 2003:
                        case 2005:
                        case 2006: // server has gone away
                        case 2011:
                        case 2012:
                        case 2013: // lost connection during query
                        case 2055:
                        case 4031: // MySQL 8: disconnected by the server
                            return true;
                        default:
                            break;
                    }

                    break;
                case IOException:
                case SocketException:
                case TimeoutException:
                    return true;
                case InvalidOperationException when e.Message.Contains("Broken", StringComparison.Ordinal):
                    return true;
                default:
                    break;
            }
        }

        return false;
    }

    /// <summary>True when the connection itself failed (as opposed to a deadlock on a healthy one).</summary>
    public static bool IsConnectionFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is IOException or SocketException)
            {
                return true;
            }

            if (e is MySqlException m && (int)m.ErrorCode is 1042 or 1053 or 1927 or 2002 or 2003 or 2006 or 2013 or 4031)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The exception the caller sees: connection problems as one line naming host, port, database and user.</summary>
    public static Exception Translate(Exception exception, StorageOptions options, bool transientBudgetExhausted)
    {
        var where = $"MySQL at {options.Host}:{options.Port}, database '{options.Database}', user '{options.User}'";
        if (exception is MySqlException m)
        {
            switch (m.ErrorCode)
            {
                case MySqlErrorCode.AccessDenied:
                case MySqlErrorCode.DatabaseAccessDenied:
                    return new StorageConnectionException($"cannot log in to {where}: access denied (check the user and password in [repository])", false, exception);
                case MySqlErrorCode.UnableToConnectToHost:
                    return new StorageConnectionException($"cannot connect to {where}: {Reason(exception)}", true, exception);
                default:
                    break;
            }
        }

        if (transientBudgetExhausted && IsConnectionFailure(exception))
        {
            return new StorageConnectionException($"lost the connection to {where} and could not reconnect: {Reason(exception)}", true, exception);
        }

        return new StorageException($"{where}: {Reason(exception)}", transientBudgetExhausted, exception);
    }

    private static string Reason(Exception exception)
    {
        // The innermost socket error says "connection refused" or "timed out" more plainly.
        var reason = exception.Message;
        for (var e = exception.InnerException; e is not null; e = e.InnerException)
        {
            if (e is SocketException s)
            {
                reason = exception.Message + " (" + s.SocketErrorCode + ")";
            }
        }

        return reason.ReplaceLineEndings(" ");
    }
}
