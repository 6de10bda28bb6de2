using System.Net.Sockets;
using HtmEngine.Server.Configuration;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>
/// Marks a test class whose tests need the real MariaDB that <c>scripts/services.sh start</c> runs.
/// Its <see cref="ServerFactAttribute"/> tests are skipped when the server does not answer and the
/// environment variable <c>CI</c> is not <c>true</c>; under <c>CI=true</c> they run and fail.
/// </summary>
public interface IRequiresMariaDb
{
}

/// <summary>The test servers as tests/conf describes them.</summary>
internal static class TestServers
{
    private static readonly Lazy<string?> s_mariaDbProblem = new(ProbeMariaDb);

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
        }
    }

    public static string TestConf => Path.Combine(RepositoryRoot, "tests", "conf");

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The [repository] section of tests/conf, mapped the way the server maps it.</summary>
    public static StorageOptions MySqlOptions()
    {
        var r = ConfigLoader.Load(TestConf).Repository;
        return new StorageOptions(r.Host, r.Port, r.Database, r.User, r.Password, r.SqlitePath);
    }

    /// <summary>The test options pointed at another database next to the test one (the test user may create <c>db_*</c>).</summary>
    public static StorageOptions FreshMySqlDatabase(string purpose)
    {
        var options = MySqlOptions();
        return options with { Database = options.Database + "_" + purpose + "_" + Guid.NewGuid().ToString("N")[..8] };
    }

    /// <summary>Null when MariaDB answers; otherwise why not.</summary>
    public static string? MariaDbProblem => s_mariaDbProblem.Value;

    /// <summary>Skip reason for a test of <paramref name="testClass"/>, or null to run it.</summary>
    public static string? SkipReason(Type testClass)
    {
        if (!typeof(IRequiresMariaDb).IsAssignableFrom(testClass) || IsCi)
        {
            return null;
        }

        return MariaDbProblem is { } problem
            ? problem + " — run scripts/services.sh start (with CI=true this test fails instead of skipping)"
            : null;
    }

    private static string? ProbeMariaDb()
    {
        string host;
        int port;
        try
        {
            var options = MySqlOptions();
            (host, port) = (options.Host, options.Port);
        }
        catch (ConfigurationException ex)
        {
            return "tests/conf cannot be loaded: " + ex.Message;
        }

        try
        {
            using var client = new TcpClient();
            if (!client.ConnectAsync(host, port).Wait(TimeSpan.FromSeconds(2)))
            {
                return $"MariaDB at {host}:{port} does not answer";
            }

            return null;
        }
        catch (AggregateException ex) when (ex.InnerException is SocketException s)
        {
            return $"MariaDB at {host}:{port} is not reachable ({s.SocketErrorCode})";
        }
    }
}
