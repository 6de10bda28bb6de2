using System.Text.RegularExpressions;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;

namespace HtmEngine.Tests.Unit.Configuration;

public partial class SupervisorConfTests
{
    [GeneratedRegex(@"^command=htmengine serve --services (\w+)$", RegexOptions.Multiline)]
    private static partial Regex ServeCommand();

    [Fact]
    public void Supervisord_conf_runs_each_service_as_its_own_serve_process()
    {
        var text = File.ReadAllText(Path.Combine(TempConfig.ShippedConf, "supervisord.conf"));
        var services = ServeCommand().Matches(text).Select(m => m.Groups[1].Value).Order().ToArray();
        Assert.Equal(ServiceCatalog.All.Select(s => s.Name).Order().ToArray(), services);
        Assert.Contains("environment=APPLICATION_CONFIG_PATH=", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Supervisord_conf_parses_as_ini_with_the_default_programs_in_one_group()
    {
        // supervisord.conf is read by supervisor, not by the engine, but it uses the same dialect.
        var doc = IniParser.ParseFile(Path.Combine(TempConfig.ShippedConf, "supervisord.conf"));
        Assert.Equal("metric_listener,metric_storer,model_scheduler,anomaly_service,web", doc.Find("group:htmengine")!.Entries["programs"].Value);
        Assert.Equal("127.0.0.1:9001", doc.Find("inet_http_server")!.Entries["port"].Value);
    }
}
