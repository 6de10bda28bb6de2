using System.Diagnostics;
using HtmEngine.Tests.Integration.Services;

namespace HtmEngine.Tests.Integration.Cli;

public class ServeProcessTests
{
    [Fact]
    public async Task Serve_runs_until_SIGTERM_and_then_exits_cleanly()
    {
        var shippedConf = Path.Combine(Path.GetDirectoryName(TestServers.ConfigDirectory)!, "..", "conf");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "htmengine.dll"));
        foreach (var arg in new[] { "serve", "--config", Path.GetFullPath(shippedConf) })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            string? line;
            var seen = new List<string>();
            while ((line = await process.StandardOutput.ReadLineAsync(timeout.Token)) is not null)
            {
                seen.Add(line);
                if (line.StartsWith("htmengine: running", StringComparison.Ordinal))
                {
                    break;
                }
            }

            Assert.True(line is not null, "serve exited before it was running: " + string.Join(" | ", seen) + await process.StandardError.ReadToEndAsync());
            Assert.False(process.HasExited);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(timeout.Token);
            }

            var rest = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("htmengine: stopped", rest, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
