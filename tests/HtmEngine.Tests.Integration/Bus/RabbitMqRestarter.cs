using System.Diagnostics;

namespace HtmEngine.Tests.Integration.Bus;

/// <summary>
/// Stops the test RabbitMQ (<c>rabbitmqctl stop</c>: the node goes down, every client connection is closed) and
/// starts it again as <c>scripts/services.sh start</c> does, so the broker is always left running.
/// </summary>
internal static class RabbitMqRestarter
{
    /// <summary>Stops the broker, optionally waits while it is down, starts it again; returns how long it was down.</summary>
    /// <param name="down">Extra time to stay down after the stop, so that work in flight meets the outage.</param>
    public static async Task<TimeSpan> StopAndStartAsync(TimeSpan down = default)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await RunAsync("rabbitmqctl", "-q stop");
            if (down > TimeSpan.Zero)
            {
                await Task.Delay(down);
            }
        }
        finally
        {
            await StartLikeServicesScriptAsync();
        }

        return clock.Elapsed;
    }

    /// <summary><c>scripts/services.sh start</c>: idempotent, starts RabbitMQ with <c>rabbitmq-server -detached</c> and waits until it answers.</summary>
    public static async Task StartLikeServicesScriptAsync() =>
        await RunAsync(Path.Combine(TestServers.RepositoryRoot, "scripts", "services.sh"), "start");

    /// <summary>Stops the broker only (the caller must start it again).</summary>
    public static Task StopAsync() => RunAsync("rabbitmqctl", "-q stop");

    private static async Task RunAsync(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(process.ExitCode == 0, $"{file} {arguments} exited {process.ExitCode}: {await stdout} {await stderr}");
    }
}
