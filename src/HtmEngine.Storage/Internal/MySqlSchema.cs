using System.Globalization;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace HtmEngine.Storage.Internal;

/// <summary>
/// Versioned migrations of the MySQL schema. Each migration is idempotent on its own (IF NOT
/// EXISTS, checks of information_schema), because MySQL commits DDL implicitly; a named server
/// lock keeps two engines from migrating the same database at once; <c>schema_version</c> records
/// what ran.
/// </summary>
internal static class MySqlSchema
{
    /// <summary>Newest schema version.</summary>
    public const int Latest = 2;

    /// <summary>
    /// Version 1: the seed README's schema (htmengine's migrations 000–002: DATETIME columns, no
    /// zero-date default on instance_status_history.timestamp, which strict SQL modes reject).
    /// </summary>
    internal static readonly string[] s_version1 =
    [
        """
        CREATE TABLE IF NOT EXISTS instance_status_history (
            server VARCHAR(100) DEFAULT '' NOT NULL,
            timestamp DATETIME NOT NULL,
            status VARCHAR(32) DEFAULT '' NOT NULL,
            PRIMARY KEY (server, timestamp)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
        """,
        """
        CREATE TABLE IF NOT EXISTS `lock` (
            name VARCHAR(40) NOT NULL,
            PRIMARY KEY (name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
        """,
        "INSERT IGNORE INTO `lock` (`name`) VALUES ('metrics')",
        """
        CREATE TABLE IF NOT EXISTS metric (
            uid VARCHAR(40) NOT NULL,
            datasource VARCHAR(100),
            name VARCHAR(255),
            description VARCHAR(200),
            server VARCHAR(100),
            location VARCHAR(200),
            parameters TEXT,
            status INTEGER DEFAULT '0',
            message TEXT,
            collector_error TEXT,
            last_timestamp DATETIME NULL DEFAULT NULL,
            poll_interval INTEGER DEFAULT '60',
            tag_name VARCHAR(200),
            model_params TEXT,
            last_rowid INTEGER,
            PRIMARY KEY (uid),
            INDEX datasource_idx (datasource),
            INDEX location_idx (location),
            INDEX server_idx (server)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
        """,
        """
        CREATE TABLE IF NOT EXISTS metric_data (
            uid VARCHAR(40) DEFAULT '' NOT NULL,
            rowid INTEGER DEFAULT '0' NOT NULL,
            timestamp DATETIME NOT NULL,
            metric_value DOUBLE NOT NULL,
            raw_anomaly_score DOUBLE,
            anomaly_score DOUBLE,
            display_value INTEGER,
            PRIMARY KEY (uid, rowid),
            INDEX anomaly_score_idx (anomaly_score),
            INDEX timestamp_idx (timestamp),
            CONSTRAINT metric_data_to_metric_fk FOREIGN KEY (uid) REFERENCES metric (uid) ON DELETE CASCADE ON UPDATE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
        """,
    ];

    /// <summary>Runs the missing migrations; returns the schema version afterwards.</summary>
    public static async Task<int> MigrateAsync(MySqlConnection connection, StorageOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        await ExecAsync(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, description VARCHAR(200) NOT NULL, applied_at DATETIME NOT NULL, PRIMARY KEY (version)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", cancellationToken).ConfigureAwait(false);

        using (var getLock = new MySqlCommand("SELECT GET_LOCK(CONCAT(DATABASE(), '.htmengine_schema'), 60)", connection))
        {
            var got = await getLock.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (got is null || got is DBNull || Convert.ToInt32(got, CultureInfo.InvariantCulture) != 1)
            {
                throw new StorageException("timed out waiting for another engine to finish migrating the schema");
            }
        }

        try
        {
            var current = await CurrentVersionAsync(connection, cancellationToken).ConfigureAwait(false);
            if (current > Latest)
            {
                throw new StorageException($"the database schema is at version {current}, newer than this engine's {Latest}; upgrade the engine");
            }

            if (current < 1)
            {
                foreach (var statement in s_version1)
                {
                    await ExecAsync(connection, statement, cancellationToken).ConfigureAwait(false);
                }

                await RecordAsync(connection, 1, "initial schema (seed README)", options, logger, cancellationToken).ConfigureAwait(false);
            }

            if (current < 2)
            {
                if (!await ColumnExistsAsync(connection, "metric_data", "multi_step_best_predictions", cancellationToken).ConfigureAwait(false))
                {
                    await ExecAsync(connection, "ALTER TABLE metric_data ADD COLUMN multi_step_best_predictions TEXT", cancellationToken).ConfigureAwait(false);
                }

                await RecordAsync(connection, 2, "metric_data.multi_step_best_predictions", options, logger, cancellationToken).ConfigureAwait(false);
            }

            return await CurrentVersionAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            using var release = new MySqlCommand("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.htmengine_schema'))", connection);
            await release.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task<int> CurrentVersionAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        using var cmd = new MySqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_version", connection);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static async Task<bool> ColumnExistsAsync(MySqlConnection connection, string table, string column, CancellationToken cancellationToken)
    {
        using var cmd = new MySqlCommand("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = @t AND COLUMN_NAME = @c", connection);
        cmd.Parameters.AddWithValue("@t", table);
        cmd.Parameters.AddWithValue("@c", column);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0;
    }

    private static async Task RecordAsync(MySqlConnection connection, int version, string description, StorageOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        using var cmd = new MySqlCommand("INSERT IGNORE INTO schema_version (version, description, applied_at) VALUES (@v, @d, UTC_TIMESTAMP())", connection);
        cmd.Parameters.AddWithValue("@v", version);
        cmd.Parameters.AddWithValue("@d", description);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        StorageLog.MigrationApplied(logger, options.Describe(), version, description);
    }

    private static async Task ExecAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var cmd = new MySqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
