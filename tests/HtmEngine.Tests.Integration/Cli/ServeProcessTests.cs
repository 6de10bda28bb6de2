using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace HtmEngine.Tests.Integration.Cli;

public class ServeProcessTests
{
    [Fact]
    public async Task Serve_runs_until_SIGTERM_and_then_exits_cleanly()
    {
        // The shipped configuration with this test's own database file, checkpoint directory and Graphite port, so
        // runs in parallel (other worktrees) do not collide.
        var shippedConf = Path.GetFullPath(Path.Combine(TestServers.ConfigDirectory, "..", "..", "conf"));
        var root = Path.Combine(Path.GetTempPath(), "htmengine-serve-" + Guid.NewGuid().ToString("N"));
        var conf = Path.Combine(root, "conf");
        Directory.CreateDirectory(conf);
        foreach (var file in Directory.GetFiles(shippedConf, "*.conf"))
        {
            File.Copy(file, Path.Combine(conf, Path.GetFileName(file)));
        }

        int[] ports = LoopbackPorts.Free(2);
        int port = ports[0];
        int webPort = ports[1];

        Rewrite(Path.Combine(conf, "application.conf"), "sqlite_path =", "sqlite_path = " + Path.Combine(root, "var", "engine.db"));
        Rewrite(Path.Combine(conf, "application.conf"), "plaintext_port =", "plaintext_port = " + port.ToString(CultureInfo.InvariantCulture));
        Rewrite(Path.Combine(conf, "application.conf"), "listen =", "listen = 127.0.0.1:" + webPort.ToString(CultureInfo.InvariantCulture));
        Rewrite(Path.Combine(conf, "model-checkpoint.conf"), "root =", "root = " + Path.Combine(root, "checkpoints"));
        shippedConf = conf;
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
            Assert.Contains("htmengine: started web: dashboard and API at http://127.0.0.1:" + webPort.ToString(CultureInfo.InvariantCulture) + "/", lines);
            Assert.Contains(lines, l => l.StartsWith("htmengine serve: backend sqlite", StringComparison.Ordinal) && l.Contains("services anomaly", StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(root, "var", "engine.db")), "serve did not open the embedded database: " + string.Join(" | ", lines));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            Directory.Delete(root, recursive: true);
        }
    }


    private static void Rewrite(string path, string linePrefix, string newLine)
    {
        var lines = File.ReadAllLines(path);
        int index = Array.FindIndex(lines, l => l.StartsWith(linePrefix, StringComparison.Ordinal));
        Assert.True(index >= 0, $"no line starting with '{linePrefix}' in {path}");
        lines[index] = newLine;
        File.WriteAllLines(path, lines);
    }
}
