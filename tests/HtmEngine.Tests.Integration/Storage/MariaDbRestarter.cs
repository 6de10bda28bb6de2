using System.Diagnostics;
using HtmEngine.Storage;
using MySqlConnector;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>
/// Crashes the test MariaDB and waits until it answers again. mariadbd is killed with SIGKILL (no
/// clean shutdown, like a crash); <c>mysqld_safe</c>, which scripts/services.sh starts it under,
/// sees the pid file left behind and restarts it after InnoDB crash recovery. If it does not come
/// back in time, <c>scripts/services.sh start</c> starts it, so the server is always left running.
/// </summary>
internal static class MariaDbRestarter
{
    private const string PidFile = "/run/mysqld/mysqld.pid";

    /// <summary>Kills mariadbd and returns how long the server did not answer.</summary>
    public static async Task<TimeSpan> KillAndAwaitRestartAsync(StorageOptions options, TimeSpan timeout)
    {
        var pid = int.Parse((await File.ReadAllTextAsync(PidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        using (var server = Process.GetProcessById(pid))
        {
            server.Kill(); // SIGKILL on Linux
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        if (await AwaitAnswerAsync(options, timeout))
        {
            return clock.Elapsed;
        }

        await EnsureRunningAsync();
        Assert.True(await AwaitAnswerAsync(options, TimeSpan.FromSeconds(30)), "MariaDB did not come back after scripts/services.sh start");
        return clock.Elapsed;
    }

    /// <summary>
    /// Shuts MariaDB down cleanly (<c>mysqladmin shutdown</c>: <c>mysqld_safe</c> does not restart a server that
    /// stopped cleanly), keeps it down for <paramref name="down"/>, starts it with <c>scripts/services.sh start</c>
    /// and returns how long it did not answer.
    /// </summary>
    public static async Task<TimeSpan> ShutdownAndStartAsync(StorageOptions options, TimeSpan down)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using (var shutdown = Process.Start(new ProcessStartInfo("mysqladmin", "--protocol=socket shutdown")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!)
            {
                await shutdown.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.True(shutdown.ExitCode == 0, "mysqladmin shutdown failed: " + await shutdown.StandardError.ReadToEndAsync());
            }

            await Task.Delay(down - clock.Elapsed > TimeSpan.Zero ? down - clock.Elapsed : TimeSpan.Zero);
        }
        finally
        {
            await EnsureRunningAsync();
        }

        Assert.True(await AwaitAnswerAsync(options, TimeSpan.FromSeconds(30)), "MariaDB did not come back after scripts/services.sh start");
        return clock.Elapsed;
    }

    /// <summary>Runs <c>scripts/services.sh start</c> (idempotent) and waits for it.</summary>
    public static async Task EnsureRunningAsync()
    {
        using var script = Process.Start(new ProcessStartInfo(Path.Combine(TestServers.RepositoryRoot, "scripts", "services.sh"), "start")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await script.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
    }

    private static async Task<bool> AwaitAnswerAsync(StorageOptions options, TimeSpan timeout)
    {
        var builder = new MySqlConnectionStringBuilder
        {
            Server = options.Host,
            Port = (uint)options.Port,
            UserID = options.User,
            Password = options.Password,
            SslMode = MySqlSslMode.None,
            Pooling = false,
            ConnectionTimeout = 2,
        };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                await using var connection = new MySqlConnection(builder.ConnectionString);
                await connection.OpenAsync();
                await using var cmd = new MySqlCommand("SELECT 1", connection);
                await cmd.ExecuteScalarAsync();
                return true;
            }
            catch (MySqlException)
            {
                await Task.Delay(200);
            }
        }

        return false;
    }
}
