using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace HtmEngine.Storage.Internal;

/// <summary>
/// The repository on an embedded SQLite file: WAL journal, <c>synchronous=NORMAL</c>, foreign keys
/// on every connection, one writer at a time (an in-process lock in front of <c>BEGIN IMMEDIATE</c>),
/// readers concurrent. DATETIME columns hold whole seconds since 1970-01-01 UTC as INTEGER.
/// </summary>
internal sealed partial class SqliteMetricRepository : SqlMetricRepository
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    private SqliteMetricRepository(StorageOptions options, ILogger logger, string connectionString)
        : base(options, logger)
    {
        _connectionString = connectionString;
    }

    /// <inheritdoc/>
    public override string Backend => "sqlite";

    // BEGIN IMMEDIATE already holds the database's write lock.
    protected override string ForUpdate => string.Empty;

    protected override string NameEqualsParameter => "name = @name";

    protected override string NoLimit => "-1";

    /// <summary>Opens (creating the file and its directory when missing), migrates and returns the repository.</summary>
    public static async Task<SqliteMetricRepository> OpenAsync(StorageOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(options.SqlitePath))
        {
            throw new StorageException("[repository] host is empty (embedded SQLite) but sqlite_path is empty too");
        }

        var path = Path.GetFullPath(options.SqlitePath);
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = 60,
        };
        var repository = new SqliteMetricRepository(options, logger, builder.ConnectionString);
        return await MigrateOrDisposeAsync(
            repository,
            static (c, r, ct) => SqliteSchema.MigrateAsync((SqliteConnection)c, r.Options, r.Logger, ct),
            cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 4000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    protected override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return ((SqliteConnection)connection).BeginTransaction(deferred: false);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }
    }

    protected override void EndWrite() => _writeLock.Release();

    protected override object TimestampValue(DateTime utc) => ToUnixSeconds(utc);

    protected override DateTime ReadTimestamp(DbDataReader reader, int ordinal) => FromUnixSeconds(reader.GetInt64(ordinal));

    protected override bool IsTransient(Exception exception)
        => exception is SqliteException { SqliteErrorCode: 5 or 6 }; // SQLITE_BUSY, SQLITE_LOCKED

    protected override Exception Translate(Exception exception, bool transientBudgetExhausted)
        => new StorageException($"{Options.Describe()}: {OneLine(exception)}", transientBudgetExhausted, exception);

    public override ValueTask DisposeAsync()
    {
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }

    protected override Task InsertSamplesAsync(DbConnection connection, DbTransaction transaction, string uid, long firstRowid, ReadOnlyMemory<Sample> samples, int[] accepted, int acceptedCount, CancellationToken cancellationToken)
    {
        InsertRows(((SqliteConnection)connection).Handle!, uid, firstRowid, samples.Span, accepted, acceptedCount);
        return Task.CompletedTask;
    }

    /// <summary>
    /// The hot loop on the native statement: bind, step, reset, with no per-row allocation. It runs
    /// on the connection's handle, inside the transaction Microsoft.Data.Sqlite opened on it.
    /// </summary>
    private static void InsertRows(sqlite3 db, string uid, long firstRowid, ReadOnlySpan<Sample> samples, int[] accepted, int acceptedCount)
    {
        var rc = raw.sqlite3_prepare_v2(db, "INSERT INTO metric_data (uid, rowid, timestamp, metric_value) VALUES (?1, ?2, ?3, ?4)", out sqlite3_stmt statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        using (statement)
        {
            SqliteException.ThrowExceptionForRC(raw.sqlite3_bind_text(statement, 1, uid), db);
            for (var i = 0; i < acceptedCount; i++)
            {
                var sample = samples[accepted[i]];
                raw.sqlite3_bind_int64(statement, 2, firstRowid + i);
                raw.sqlite3_bind_int64(statement, 3, ToUnixSeconds(RoundToSecond(sample.Timestamp)));
                raw.sqlite3_bind_double(statement, 4, sample.Value);
                rc = raw.sqlite3_step(statement);
                if (rc != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(rc, db);
                }

                raw.sqlite3_reset(statement);
            }
        }
    }

    protected override Task<int> UpdateScoresCoreAsync(DbConnection connection, DbTransaction transaction, string uid, ReadOnlyMemory<ScoreUpdate> updates, CancellationToken cancellationToken)
    {
        using var cmd = (SqliteCommand)Command(connection, transaction, "UPDATE metric_data SET raw_anomaly_score = @a, anomaly_score = @s, display_value = @d, multi_step_best_predictions = @p WHERE uid = @u AND rowid = @r");
        cmd.Parameters.Add("@u", SqliteType.Text).Value = uid;
        var rowid = cmd.Parameters.Add("@r", SqliteType.Integer);
        var raw = cmd.Parameters.Add("@a", SqliteType.Real);
        var score = cmd.Parameters.Add("@s", SqliteType.Real);
        var display = cmd.Parameters.Add("@d", SqliteType.Integer);
        var predictions = cmd.Parameters.Add("@p", SqliteType.Text);
        cmd.Prepare();
        var matched = 0;
        foreach (var u in updates.Span)
        {
            rowid.Value = u.Rowid;
            raw.Value = u.RawAnomalyScore is { } a ? a : DBNull.Value;
            score.Value = u.AnomalyScore is { } s ? s : DBNull.Value;
            display.Value = u.DisplayValue is { } d ? d : DBNull.Value;
            predictions.Value = (object?)u.MultiStepBestPredictions ?? DBNull.Value;
            matched += cmd.ExecuteNonQuery();
        }

        return Task.FromResult(matched);
    }
}

/// <summary>Versioned migrations of the SQLite schema; each runs in one transaction (SQLite DDL is transactional).</summary>
internal static class SqliteSchema
{
    /// <summary>Newest schema version (same numbering as MySQL).</summary>
    public const int Latest = 2;

    /// <summary>Version 1: the seed schema with SQLite types (TEXT, REAL, INTEGER; DATETIME as INTEGER seconds).</summary>
    internal static readonly string[] s_version1 =
    [
        """
        CREATE TABLE IF NOT EXISTS instance_status_history (
            server VARCHAR(100) DEFAULT '' NOT NULL,
            timestamp INTEGER NOT NULL,
            status VARCHAR(32) DEFAULT '' NOT NULL,
            PRIMARY KEY (server, timestamp)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS `lock` (
            name VARCHAR(40) NOT NULL,
            PRIMARY KEY (name)
        )
        """,
        "INSERT OR IGNORE INTO `lock` (name) VALUES ('metrics')",
        """
        CREATE TABLE IF NOT EXISTS metric (
            uid VARCHAR(40) NOT NULL,
            datasource VARCHAR(100),
            name VARCHAR(255),
            description VARCHAR(200),
            server VARCHAR(100),
            location VARCHAR(200),
            parameters TEXT,
            status INTEGER DEFAULT 0,
            message TEXT,
            collector_error TEXT,
            last_timestamp INTEGER NULL DEFAULT NULL,
            poll_interval INTEGER DEFAULT 60,
            tag_name VARCHAR(200),
            model_params TEXT,
            last_rowid INTEGER,
            PRIMARY KEY (uid)
        )
        """,
        "CREATE INDEX IF NOT EXISTS datasource_idx ON metric (datasource)",
        "CREATE INDEX IF NOT EXISTS location_idx ON metric (location)",
        "CREATE INDEX IF NOT EXISTS server_idx ON metric (server)",
        """
        CREATE TABLE IF NOT EXISTS metric_data (
            uid VARCHAR(40) DEFAULT '' NOT NULL,
            rowid INTEGER DEFAULT 0 NOT NULL,
            timestamp INTEGER NOT NULL,
            metric_value DOUBLE NOT NULL,
            raw_anomaly_score DOUBLE,
            anomaly_score DOUBLE,
            display_value INTEGER,
            PRIMARY KEY (uid, rowid),
            CONSTRAINT metric_data_to_metric_fk FOREIGN KEY (uid) REFERENCES metric (uid) ON DELETE CASCADE ON UPDATE CASCADE
        ) WITHOUT ROWID
        """,
        "CREATE INDEX IF NOT EXISTS anomaly_score_idx ON metric_data (anomaly_score)",
        "CREATE INDEX IF NOT EXISTS timestamp_idx ON metric_data (timestamp)",
    ];

    /// <summary>Runs the missing migrations; returns the schema version afterwards.</summary>
    public static async Task<int> MigrateAsync(SqliteConnection connection, StorageOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        // IMMEDIATE: a second engine opening the same file waits here instead of migrating twice.
        using var transaction = connection.BeginTransaction(deferred: false);
        Exec(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        var current = CurrentVersion(connection, transaction);
        if (current > Latest)
        {
            throw new StorageException($"the database schema is at version {current}, newer than this engine's {Latest}; upgrade the engine");
        }

        var applied = new List<(int, string)>();
        if (current < 1)
        {
            foreach (var statement in s_version1)
            {
                Exec(connection, transaction, statement);
            }

            Record(connection, transaction, 1, "initial schema (seed README)");
            applied.Add((1, "initial schema (seed README)"));
        }

        if (current < 2)
        {
            if (!ColumnExists(connection, transaction, "metric_data", "multi_step_best_predictions"))
            {
                Exec(connection, transaction, "ALTER TABLE metric_data ADD COLUMN multi_step_best_predictions TEXT");
            }

            Record(connection, transaction, 2, "metric_data.multi_step_best_predictions");
            applied.Add((2, "metric_data.multi_step_best_predictions"));
        }

        var version = CurrentVersion(connection, transaction);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (v, d) in applied)
        {
            StorageLog.MigrationApplied(logger, options.Describe(), v, d);
        }

        return version;
    }

    private static void Exec(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static int CurrentVersion(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
        return Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static bool ColumnExists(SqliteConnection connection, SqliteTransaction transaction, string table, string column)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "SELECT COUNT(*) FROM pragma_table_info(@t) WHERE name = @c";
        cmd.Parameters.AddWithValue("@t", table);
        cmd.Parameters.AddWithValue("@c", column);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static void Record(SqliteConnection connection, SqliteTransaction transaction, int version, string description)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "INSERT OR IGNORE INTO schema_version (version, description, applied_at) VALUES (@v, @d, @a)";
        cmd.Parameters.AddWithValue("@v", version);
        cmd.Parameters.AddWithValue("@d", description);
        cmd.Parameters.AddWithValue("@a", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        cmd.ExecuteNonQuery();
    }
}
