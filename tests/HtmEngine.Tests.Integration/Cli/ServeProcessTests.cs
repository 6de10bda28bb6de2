using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace HtmEngine.Tests.Integration.Cli;

public class ServeProcessTests
{
    [Fact]
    public async Task Serve_runs_until_SIGTERM_and_then_exits_cleanly()
    {
        var shippedConf = Path.GetFullPath(Path.Combine(TestServers.ConfigDirectory, "..", "..", "conf"));
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "htmengine.dll"), "serve", "--config", shippedConf })
        {
            start.ArgumentList.Add(arg);
        }

        var lines = new ConcurrentQueue<string>();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lines.Enqueue(line);
                if (line.StartsWith("htmengine: running", StringComparison.Ordinal))
                {
                    running.TrySetResult();
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lines.Enqueue("stderr: " + line);
            }
        };
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            // Generous: the machine may be busy building; a healthy start takes well under a second.
            var first = await Task.WhenAny(running.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(90)));
            Assert.True(first == running.Task, "serve did not report running: " + string.Join(" | ", lines));
            Assert.False(process.HasExited);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            var exited = process.WaitForExitAsync();
            Assert.True(await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(30))) == exited, "serve did not exit after SIGTERM");
            await exited;
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("htmengine: stopped", lines);
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
