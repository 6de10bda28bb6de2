using HtmEngine.Server.Commands;
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
