using System.Globalization;
using System.Text;
using HtmEngine.Server.Commands;
using HtmEngine.Storage;
using HtmEngine.Tests.Unit.Configuration;

namespace HtmEngine.Tests.Unit.Cli;

public class ServeCommandTests
{
    [Fact]
    public void Serve_on_the_shipped_conf_reports_embedded_backends_and_stops_cleanly()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = new ServeCommand(new CancellationToken(canceled: true)).Run(["--config", TempConfig.ShippedConf], stdout, stderr);
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr.ToString());
        var output = stdout.ToString();
        Assert.Contains("repository: embedded SQLite", output, StringComparison.Ordinal);
        Assert.Contains("bus: in-process", output, StringComparison.Ordinal);
        Assert.Contains("service listener:", output, StringComparison.Ordinal);
        Assert.EndsWith("htmengine: stopped" + Environment.NewLine, output, StringComparison.Ordinal);
    }

    [Fact]
    public void Serve_with_a_service_list_runs_only_those_and_reports_servers()
    {
        var stdout = new StringWriter();
        int code = new ServeCommand(new CancellationToken(canceled: true)).Run(["--config", TempConfig.TestConf, "--services", "storer"], stdout, new StringWriter());
        Assert.Equal(0, code);
        var output = stdout.ToString();
        Assert.Contains("service storer:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("service listener:", output, StringComparison.Ordinal);
        Assert.Contains("repository: MySQL htmengine_test@127.0.0.1:3306/htmengine_test", output, StringComparison.Ordinal);
        Assert.Contains("bus: RabbitMQ guest@127.0.0.1:5672", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_service_is_a_usage_error_naming_it()
    {
        var stderr = new StringWriter();
        int code = new ServeCommand().Run(["--services", "listener,frobber"], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains("unknown service 'frobber'", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_configuration_stops_serve_with_exit_code_1()
    {
        using var config = TempConfig.CopyOf();
        File.Delete(config.PathOf("rabbitmq"));
        var stderr = new StringWriter();
        int code = new ServeCommand(new CancellationToken(canceled: true)).Run(["--config", config.Directory], new StringWriter(), stderr);
        Assert.Equal(1, code);
        Assert.Contains(config.PathOf("rabbitmq"), stderr.ToString(), StringComparison.Ordinal);
    }
}

public class ServeRunsTheEngineTests
{
    [Fact]
    public async Task Serve_on_the_embedded_backend_opens_sqlite_runs_the_anomaly_service_and_stops_on_request()
    {
        using var config = TempConfig.CopyOf();
        var database = Path.Combine(config.Root, "var", "serve-test.db");
        config.Replace("application", "sqlite_path", "sqlite_path = " + database);
        using var stop = new CancellationTokenSource();
        var stdout = new SynchronizedWriter();
        var stderr = new StringWriter();
        var run = Task.Run(() => new ServeCommand(stop.Token).Run(["--config", config.Directory, "--services", "anomaly,gc"], stdout, stderr));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!stdout.ToString().Contains("htmengine: running", StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, "serve ended early: " + stdout + stderr);
            Assert.True(DateTime.UtcNow < deadline, "serve did not report running: " + stdout + stderr);
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(60)));
        var output = stdout.ToString();
        Assert.Contains("htmengine serve: backend sqlite (SQLite file '" + database + "'), in-process bus; queues htmengine.metric.custom.data, htmengine.mswapper.results", output, StringComparison.Ordinal);
        Assert.Contains("exchange htmengine.model.results; services anomaly, gc", output, StringComparison.Ordinal);
        Assert.Contains("htmengine: started anomaly", output, StringComparison.Ordinal);
        Assert.Contains("htmengine: started gc", output, StringComparison.Ordinal);

        // Reverse start order on the way out.
        Assert.True(output.IndexOf("htmengine: stopped gc", StringComparison.Ordinal) < output.IndexOf("htmengine: stopped anomaly", StringComparison.Ordinal));
        Assert.True(File.Exists(database), "the embedded database was not created");

        // A subset on the in-process bus is allowed but warned about: nothing else can reach these services.
        var warning = stderr.ToString();
        Assert.StartsWith("htmengine serve: warning: the in-process bus connects only the services of this process, and models, storer, listener will not run here", warning, StringComparison.Ordinal);
        Assert.Contains("rabbitmq.conf", warning, StringComparison.Ordinal);
        Assert.Single(warning.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_stop_right_after_a_stream_on_the_in_process_bus_stores_and_scores_every_sample()
    {
        // The in-process bus dies with the process: serve must let each consumer finish its queue before it stops.
        const int Metrics = 8;
        const int Rows = 2500;
        using var config = TempConfig.CopyOf();
        var database = Path.Combine(config.Root, "var", "drain.db");
        int[] ports = LoopbackPorts.Free(2);
        int graphitePort = ports[0];
        int webPort = ports[1];
        config.Replace("application", "sqlite_path", "sqlite_path = " + database);
        config.Replace("application", "plaintext_port", "plaintext_port = " + graphitePort.ToString(CultureInfo.InvariantCulture));
        config.Replace("application", "listen", "listen = 127.0.0.1:" + webPort.ToString(CultureInfo.InvariantCulture));
        config.Replace("model-checkpoint", "root", "root = " + Path.Combine(config.Root, "checkpoints"));
        using var stop = new CancellationTokenSource();
        var stdout = new SynchronizedWriter();
        var stderr = new StringWriter();
        var run = Task.Run(() => new ServeCommand(stop.Token).Run(["--config", config.Directory], stdout, stderr));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!stdout.ToString().Contains("htmengine: running", StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, "serve ended early: " + stdout + stderr);
            Assert.True(DateTime.UtcNow < deadline, "serve did not report running: " + stdout + stderr);
            await Task.Delay(50);
        }

        using var http = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:" + webPort.ToString(CultureInfo.InvariantCulture)) };
        var text = new StringBuilder();
        for (int m = 0; m < Metrics; m++)
        {
            var monitor = await http.PostAsync("/api/models", new StringContent(
                "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"drain." + m.ToString(CultureInfo.InvariantCulture) + "\"},\"modelParams\":{\"min\":0,\"max\":100}}"));
            Assert.True(monitor.IsSuccessStatusCode, await monitor.Content.ReadAsStringAsync());
        }

        for (int i = 0; i < Rows; i++)
        {
            for (int m = 0; m < Metrics; m++)
            {
                text.Append(CultureInfo.InvariantCulture, $"drain.{m} {(i * (m + 3)) % 100} {1_600_000_000 + (300 * i)}\n");
            }
        }

        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())))
        {
            await HtmEngine.Server.Commands.Client.SendCommand.SendAsync(input, "127.0.0.1", graphitePort);
        }

        // Stop as soon as the listener has every line: the storer, the models and the anomaly service still have work queued.
        while (!(await http.GetStringAsync("/metrics")).Contains($"htmengine_listener_lines_accepted_total {Metrics * Rows}\n", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline + TimeSpan.FromSeconds(60), "the listener did not accept every line");
            await Task.Delay(20);
        }

        await stop.CancelAsync();
        int code = await run.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(code == 0, $"serve exited with {code}: {stderr} | {stdout}");
        Assert.DoesNotContain("still queued", stdout.ToString(), StringComparison.Ordinal);

        await using var repository = await MetricRepository.OpenAsync(new StorageOptions("", 0, "", "", "", database));
        for (int m = 0; m < Metrics; m++)
        {
            var metric = await repository.GetCustomMetricByNameAsync("drain." + m.ToString(CultureInfo.InvariantCulture));
            var rows = await repository.GetMetricDataAsync(new MetricDataQuery { Uid = metric.Uid, MinScore = 0 });
            Assert.Equal(Rows, rows.Count); // stored and given an anomaly score
            Assert.All(rows, r => Assert.NotNull(r.RawAnomalyScore));
        }
    }


    [Fact]
    public void Gc_is_off_by_default_but_can_be_selected()
    {
        var stdout = new StringWriter();
        int code = new ServeCommand(new CancellationToken(canceled: true)).Run(["--config", TempConfig.ShippedConf], stdout, new StringWriter());
        Assert.Equal(0, code);
        Assert.DoesNotContain("service gc:", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("service anomaly:", stdout.ToString(), StringComparison.Ordinal);
        var help = new ServeCommand().Help;
        Assert.Contains("gc (the metric garbage collector) runs only when listed", help, StringComparison.Ordinal);
    }

    /// <summary>A StringWriter safe to read while serve writes to it from another thread.</summary>
    private sealed class SynchronizedWriter : StringWriter
    {
        public override void Write(char value)
        {
            lock (this)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (this)
            {
                base.Write(value);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (this)
            {
                base.WriteLine(value);
            }
        }

        public override string ToString()
        {
            lock (this)
            {
                return base.ToString();
            }
        }
    }
}
