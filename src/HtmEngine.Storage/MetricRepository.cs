using HtmEngine.Storage.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Storage;

/// <summary>Opens the repository the options name.</summary>
public static class MetricRepository
{
    /// <summary>
    /// Connects to MySQL/MariaDB (creating the database when it is missing) or opens the SQLite
    /// file (creating it and its directory), brings the schema to the newest version, and returns
    /// the repository. Connection problems throw <see cref="StorageConnectionException"/> with one
    /// line naming host, port, database and user.
    /// </summary>
    public static async Task<IMetricRepository> OpenAsync(StorageOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("HtmEngine.Storage");
        return options.UsesSqlite
            ? await SqliteMetricRepository.OpenAsync(options, logger, cancellationToken).ConfigureAwait(false)
            : await MySqlMetricRepository.OpenAsync(options, logger, cancellationToken).ConfigureAwait(false);
    }
}
