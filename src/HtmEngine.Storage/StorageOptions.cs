namespace HtmEngine.Storage;

/// <summary>
/// Where the repository lives. An empty <see cref="Host"/> selects the embedded SQLite file at
/// <see cref="SqlitePath"/>; otherwise MySQL/MariaDB at <see cref="Host"/>:<see cref="Port"/>.
/// The server's configuration maps <c>application.conf [repository]</c> onto this record.
/// </summary>
/// <param name="Host">MySQL host name or address; empty selects SQLite.</param>
/// <param name="Port">MySQL TCP port.</param>
/// <param name="Database">MySQL database name; created by the engine when missing.</param>
/// <param name="User">MySQL user.</param>
/// <param name="Password">MySQL password; never written to messages or logs.</param>
/// <param name="SqlitePath">Path of the embedded database file (used when <see cref="Host"/> is empty).</param>
public sealed record StorageOptions(string Host, int Port, string Database, string User, string Password, string SqlitePath)
{
    /// <summary>True when the repository is the embedded SQLite file.</summary>
    public bool UsesSqlite => string.IsNullOrEmpty(Host);

    /// <summary>
    /// How long a unit of work is retried after transient errors (deadlock, lock wait timeout, lost
    /// connection, server restart) before the error is reported. Default 30 s.
    /// </summary>
    public TimeSpan RetryBudget { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>First back-off delay after a transient error; doubles up to <see cref="MaxRetryDelay"/>. Default 50 ms.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest single back-off delay. Default 2 s.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>MySQL connect timeout. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest MySQL connection pool. Default 32.</summary>
    public int MaxPoolSize { get; init; } = 32;

    /// <summary>How MySQL sample inserts travel. Default <see cref="MySqlInsertMethod.BulkLoad"/> (measured faster).</summary>
    public MySqlInsertMethod InsertMethod { get; init; } = MySqlInsertMethod.BulkLoad;

    /// <summary>A one-line description naming everything but the password, for messages.</summary>
    public string Describe() => UsesSqlite
        ? $"SQLite file '{SqlitePath}'"
        : $"MySQL at {Host}:{Port}, database '{Database}', user '{User}'";

    /// <summary>Hides the password from logs and debugger displays.</summary>
    public override string ToString() => Describe();
}

/// <summary>How sample rows are sent to MySQL/MariaDB.</summary>
public enum MySqlInsertMethod
{
    /// <summary>Parameterised multi-row <c>INSERT … VALUES (…),(…)</c>, up to 1,000 rows per statement.</summary>
    MultiRowInsert,

    /// <summary><c>LOAD DATA LOCAL INFILE</c> from an in-memory tab-separated stream (MySqlBulkLoader); needs <c>local_infile=ON</c> on the server.</summary>
    BulkLoad,
}
