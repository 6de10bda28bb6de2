using HtmEngine.Storage;
using MySqlConnector;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>A fresh SQLite file in a temp directory per test class; deleted afterwards.</summary>
public sealed class SqliteRepositoryFixture : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "htmengine-storage-" + Guid.NewGuid().ToString("N"));

    public StorageOptions Options => new(string.Empty, 0, string.Empty, string.Empty, string.Empty, Path.Combine(_directory, "sub", "htmengine.db"));

    public IMetricRepository Repository { get; private set; } = null!;

    public async Task InitializeAsync() => Repository = await MetricRepository.OpenAsync(Options);

    public async Task DisposeAsync()
    {
        await Repository.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>A fresh MariaDB database per test class, created by the engine and dropped afterwards.</summary>
public class MySqlRepositoryFixture : IAsyncLifetime
{
    public StorageOptions Options { get; } = TestServers.FreshMySqlDatabase("repo");

    public IMetricRepository Repository { get; private set; } = null!;

    protected virtual StorageOptions Configure(StorageOptions options) => options;

    public async Task InitializeAsync()
    {
        if (TestServers.SkipReason(TestServer.MariaDb) is not null)
        {
            return; // every test of the class is skipped; do not touch the server
        }

        Repository = await MetricRepository.OpenAsync(Configure(Options));
    }

    public async Task DisposeAsync()
    {
        if (Repository is null)
        {
            return;
        }

        await Repository.DisposeAsync();
        await DropDatabaseAsync(Options);
    }

    public static async Task DropDatabaseAsync(StorageOptions options)
    {
        var builder = new MySqlConnectionStringBuilder { Server = options.Host, Port = (uint)options.Port, UserID = options.User, Password = options.Password, SslMode = MySqlSslMode.None };
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new MySqlCommand("DROP DATABASE IF EXISTS `" + options.Database.Replace("`", "``", StringComparison.Ordinal) + "`", connection);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>The same as <see cref="MySqlRepositoryFixture"/> with the multi-row INSERT path instead of bulk load.</summary>
public sealed class MySqlMultiRowRepositoryFixture : MySqlRepositoryFixture
{
    protected override StorageOptions Configure(StorageOptions options) => options with { InsertMethod = MySqlInsertMethod.MultiRowInsert };
}

/// <summary>The repository contract on embedded SQLite.</summary>
public sealed class SqliteRepositoryTests(SqliteRepositoryFixture fixture) : RepositoryContractTests, IClassFixture<SqliteRepositoryFixture>
{
    protected override IMetricRepository Repository => fixture.Repository;

    protected override Task<IMetricRepository> OpenAgainAsync() => MetricRepository.OpenAsync(fixture.Options);

    [Fact]
    public async Task The_file_uses_WAL_and_foreign_keys()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + fixture.Options.SqlitePath);
        await connection.OpenAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
        cmd.CommandText = "SELECT COUNT(*) FROM pragma_foreign_key_list('metric_data') WHERE \"table\" = 'metric' AND on_delete = 'CASCADE'";
        Assert.Equal(1L, (long)(await cmd.ExecuteScalarAsync())!);
    }
}

/// <summary>The repository contract on MariaDB (bulk-load insert path, the default).</summary>
[Collection(MariaDbCollection.Name)]
public sealed class MySqlRepositoryTests(MySqlRepositoryFixture fixture) : RepositoryContractTests, IClassFixture<MySqlRepositoryFixture>, IRequiresMariaDb
{
    protected override IMetricRepository Repository => fixture.Repository;

    protected override Task<IMetricRepository> OpenAgainAsync() => MetricRepository.OpenAsync(fixture.Options);

    [ServerFact]
    public async Task The_schema_matches_the_seed_tables_keys_and_foreign_key()
    {
        var o = fixture.Options;
        var builder = new MySqlConnectionStringBuilder { Server = o.Host, Port = (uint)o.Port, UserID = o.User, Password = o.Password, Database = o.Database, SslMode = MySqlSslMode.None };
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT GROUP_CONCAT(DISTINCT CONCAT(TABLE_NAME, '.', INDEX_NAME) ORDER BY TABLE_NAME, INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()";
        Assert.Equal(
            "instance_status_history.PRIMARY,lock.PRIMARY,metric.datasource_idx,metric.location_idx,metric.PRIMARY,metric.server_idx,metric_data.anomaly_score_idx,metric_data.PRIMARY,metric_data.timestamp_idx,schema_version.PRIMARY",
            (string?)await cmd.ExecuteScalarAsync());
        cmd.CommandText = "SELECT CONCAT(DELETE_RULE, '/', UPDATE_RULE) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'metric_data_to_metric_fk'";
        Assert.Equal("CASCADE/CASCADE", (string?)await cmd.ExecuteScalarAsync());
        cmd.CommandText = "SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ':', COLUMN_TYPE) ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'metric_data'";
        Assert.Equal(
            "uid:varchar(40),rowid:int(11),timestamp:datetime,metric_value:double,raw_anomaly_score:double,anomaly_score:double,display_value:int(11),multi_step_best_predictions:text",
            (string?)await cmd.ExecuteScalarAsync());
        cmd.CommandText = "SELECT COUNT(*) FROM `lock` WHERE name = 'metrics'";
        Assert.Equal(1L, Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        cmd.CommandText = "SELECT GROUP_CONCAT(version ORDER BY version) FROM schema_version";
        Assert.Equal("1,2", (string?)await cmd.ExecuteScalarAsync());
    }
}

/// <summary>The repository contract on MariaDB with the multi-row INSERT path.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class MySqlMultiRowRepositoryTests(MySqlMultiRowRepositoryFixture fixture) : RepositoryContractTests, IClassFixture<MySqlMultiRowRepositoryFixture>, IRequiresMariaDb
{
    protected override IMetricRepository Repository => fixture.Repository;

    protected override Task<IMetricRepository> OpenAgainAsync() => MetricRepository.OpenAsync(fixture.Options);
}
