using System.Net.Sockets;
using HtmEngine.Server.Configuration;

namespace HtmEngine.Tests.Integration.Services;

/// <summary>
/// The real servers named by <c>tests/conf</c> (started by <c>scripts/services.sh start</c>), and the
/// rule for tests that need them: locally, a missing server skips the test; with <c>CI=true</c> it
/// never skips, so the test runs and fails.
/// </summary>
public static class TestServers
{
    private static readonly Lazy<EngineOptions> s_options = new(() => ConfigLoader.Load(ConfigDirectory));
    private static readonly Lazy<string?> s_missing = new(FindMissing);

    /// <summary>The test configuration directory (<c>tests/conf</c>), loaded through the engine's own loader.</summary>
    public static string ConfigDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
                {
                    return Path.Combine(dir.FullName, "tests", "conf");
                }
            }

            throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The loaded test configuration (environment overrides apply, as for the engine).</summary>
    public static EngineOptions Options => s_options.Value;

    /// <summary>True when the environment variable <c>CI</c> is <c>true</c> (or <c>1</c>): missing servers are failures.</summary>
    public static bool IsCi => Environment.GetEnvironmentVariable("CI") is { } ci
        && (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");

    /// <summary>Why tests needing servers cannot run here, or null when they must run.</summary>
    public static string? SkipReason => IsCi ? null : s_missing.Value;

    private static string? FindMissing()
    {
        var options = Options;
        var missing = new List<string>();
        if (!Answers(options.Repository.Host, options.Repository.Port))
        {
            missing.Add($"MariaDB at {options.Repository.Host}:{options.Repository.Port}");
        }

        if (!Answers(options.Bus.Host, options.Bus.Port))
        {
            missing.Add($"RabbitMQ at {options.Bus.Host}:{options.Bus.Port}");
        }

        return missing.Count == 0
            ? null
            : $"{string.Join(" and ", missing)} not reachable; run scripts/services.sh start (with CI=true this fails instead)";
    }

    private static bool Answers(string host, int port)
    {
        try
        {
            using var client = new TcpClient();
            return client.ConnectAsync(host, port).Wait(TimeSpan.FromSeconds(2)) && client.Connected;
        }
        catch (Exception e) when (e is SocketException or AggregateException)
        {
            return false;
        }
    }
}

/// <summary>
/// A fact that needs MariaDB and RabbitMQ from <c>tests/conf</c>. It is skipped only when a server
/// is unreachable and <c>CI</c> is not <c>true</c>; under CI it always runs (and fails if a server is missing).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresServersFactAttribute : FactAttribute
{
    /// <summary>Decides at discovery whether the servers are there.</summary>
    public RequiresServersFactAttribute()
    {
        if (TestServers.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
