using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HtmEngine.Server.Commands.Client;
using HtmEngine.Tests.Unit.Web;

namespace HtmEngine.Tests.Integration.Web;

/// <summary>
/// A fact that needs Debian's Chromium: skipped when it is missing only while <c>CI</c> is unset; with <c>CI=true</c>
/// it runs and fails, as the server tests do.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute, skipping the test locally when Chromium is not installed.</summary>
    public ChromiumFactAttribute()
    {
        if (DashboardTests.ChromiumPath is null && !TestServers.IsCi)
        {
            Skip = "chromium is not installed (scripts/test.sh installs it; with CI=true this test fails instead)";
        }
    }
}

/// <summary>
/// The dashboard in headless Chromium against a whole engine in this process (embedded backend) fed with a NAB series
/// over Graphite: the page must rank the metric and draw every row it asked for, with the anomalies marked. The
/// screenshot is kept in <c>artifacts/test/dashboard.png</c>.
/// </summary>
public sealed partial class DashboardTests : IAsyncLifetime
{
    private const string Series = "artificialWithAnomaly/art_daily_jumpsup.csv";
    private InProcessEngine _engine = null!;

    /// <summary>Debian's Chromium, or null when it is not installed.</summary>
    public static string? ChromiumPath => File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium" : null;

    public async Task InitializeAsync() => _engine = await InProcessEngine.StartAsync();

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    [ChromiumFact]
    public async Task The_page_ranks_the_metric_and_draws_its_values_and_anomalies()
    {
        Assert.True(ChromiumPath is not null, "chromium is not installed: run scripts/test.sh, which installs it");

        // A NAB series with a jump, monitored with its own range, sent over Graphite.
        const string Name = "nab.art_daily_jumpsup";
        var lines = File.ReadAllLines(Path.Combine(TestServers.RepositoryRoot, "..", "shared", "nab", "data", Series)).Skip(1).ToArray();
        var graphite = new StringBuilder();
        double min = double.MaxValue, max = double.MinValue;
        foreach (var line in lines)
        {
            var fields = line.Split(',');
            var time = DateTime.ParseExact(fields[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            double value = double.Parse(fields[1], CultureInfo.InvariantCulture);
            min = Math.Min(min, value);
            max = Math.Max(max, value);
            graphite.Append(CultureInfo.InvariantCulture, $"{Name} {fields[1]} {(long)(time - DateTime.UnixEpoch).TotalSeconds}\n");
        }

        using var http = new HttpClient { BaseAddress = _engine.Url };
        var monitor = await http.PostAsJsonAsync("/api/models", new JsonObject
        {
            ["datasource"] = "custom",
            ["metricSpec"] = new JsonObject { ["metric"] = Name },
            ["modelParams"] = new JsonObject { ["min"] = min, ["max"] = max },
        });
        Assert.True(monitor.IsSuccessStatusCode, await monitor.Content.ReadAsStringAsync());
        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(graphite.ToString())))
        {
            await SendCommand.SendAsync(input, "127.0.0.1", _engine.GraphitePort);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        JsonNode newest;
        while (true)
        {
            newest = (await http.GetFromJsonAsync<JsonNode>($"/api/metrics/{Name}/data?order=desc&limit=2000"))!;
            var rows = newest["data"]!.AsArray();
            if (rows.Count > 0 && (long)rows[0]!["rowid"]! == lines.Length && rows[0]!["anomalyScore"] is not null)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the series was not scored in time");
            await Task.Delay(250);
        }

        int expectedAnomalies = newest["data"]!.AsArray().Count(r => r!["displayValue"] is { } d && (long)d >= 1_000_000);

        string page = new Uri(_engine.Url, "/#" + Uri.EscapeDataString(Name)).ToString();
        string artifacts = Path.Combine(TestServers.RepositoryRoot, "artifacts", "test");
        Directory.CreateDirectory(artifacts);
        string screenshot = Path.Combine(artifacts, "dashboard.png");
        File.Delete(screenshot);
        await ChromiumAsync("--screenshot=" + screenshot, "--window-size=1400,900", page);
        string dom = await ChromiumAsync("--dump-dom", page);

        // The ranked list holds the metric; the chart drew the 2,000 newest rows and marked the anomalies the API has.
        Assert.Matches($"<li class=\"metric[^\"]*\" data-uid=\"[0-9a-f]{{32}}\" data-name=\"{Regex.Escape(Name)}\"", dom);
        var chart = ChartTag().Match(dom);
        Assert.True(chart.Success, "no chart element in the page: " + dom[..Math.Min(dom.Length, 2000)]);
        Assert.Contains("data-points=\"2000\"", chart.Value, StringComparison.Ordinal);
        Assert.Contains($"data-anomalies=\"{expectedAnomalies}\"", chart.Value, StringComparison.Ordinal);
        Assert.Contains($"data-metric=\"{Name}\"", chart.Value, StringComparison.Ordinal);
        Assert.Contains("<canvas", dom, StringComparison.Ordinal);
        Assert.Contains("data-ready=\"true\"", dom, StringComparison.Ordinal);

        var png = await File.ReadAllBytesAsync(screenshot);
        Assert.True(png.Length > 10_000, $"screenshot of {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    private static async Task<string> ChromiumAsync(params string[] args)
    {
        var start = new ProcessStartInfo(ChromiumPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000", .. args])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(120))) != exited)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish in 120 s: " + await error);
        }

        Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {await error}");
        return await output;
    }

    [GeneratedRegex("<div id=\"chart\"[^>]*>")]
    private static partial Regex ChartTag();
}
