using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using HtmEngine.Server;

namespace HtmEngine.Tests.Unit.Web;

/// <summary>
/// The command-line clients against a whole engine running in this process on the embedded backend (every default
/// service, Graphite and HTTP on free loopback ports, a token set): what users type, what they read back.
/// </summary>
public sealed class ClientCommandsTests : IAsyncLifetime
{
    private const string Token = "cli-token";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(120);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "htmengine-cli-" + Guid.NewGuid().ToString("N"));
    private readonly string _name = "cli." + Guid.NewGuid().ToString("N")[..8] + ".cpu";
    private InProcessEngine _engine = null!;
    private string _url = "";
    private int _graphitePort;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _engine = await InProcessEngine.StartAsync(Token);
        _url = _engine.Url.ToString();
        _graphitePort = _engine.GraphitePort;
    }

    public async Task DisposeAsync()
    {
        await _engine.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Monitor_send_follow_results_read_data_and_list()
    {
        var (code, output, error) = Run("monitor", _name, "--min", "0", "--max", "100");
        Assert.True(code == 0, error);
        Assert.Matches($"^monitoring {_name.Replace(".", "\\.", StringComparison.Ordinal)} \\([0-9a-f]{{32}}\\): CREATE_PENDING", output);

        var file = Path.Combine(_directory, "lines.txt");
        var text = new StringBuilder();
        for (int i = 0; i < 300; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{_name} {50 + (20 * Math.Sin(i / 5.0)):F2} {1_700_000_000 + (300 * i)}\n");
        }

        File.WriteAllText(file, text.ToString());
        string port = _graphitePort.ToString(CultureInfo.InvariantCulture);
        (code, output, error) = RunWith(["send", file, "--host", "127.0.0.1", "--port", port]);
        Assert.True(code == 0, error);
        Assert.StartsWith("sent 300 line(s), ", output, StringComparison.Ordinal);

        // Graphite orders nothing across connections: wait until the file is stored before later samples go in on
        // other connections, or the file's samples would be rejected as out of order (as the engine must).
        await WaitUntilAsync(
            () => Task.FromResult(Run("data", _name, "--format", "json").Output is var stored
                && JsonNode.Parse(stored)!["data"]!.AsArray().Count == 300),
            "the 300 stored rows");

        // Follow the results: one more sample every 300 ms until the follower has its five lines, whenever it bound.
        var follow = Task.Run(() => Run("results", "--count", "5"));
        for (int i = 300; !follow.IsCompleted; i++)
        {
            Assert.True(i < 700, "the results follower printed fewer than 5 lines");
            var one = Path.Combine(_directory, "one.txt");
            File.WriteAllText(one, string.Create(CultureInfo.InvariantCulture, $"{_name} 50 {1_700_000_000 + (300 * i)}\n"));
            Assert.Equal(0, RunWith(["send", one, "--host", "127.0.0.1", "--port", port]).Code);
            await Task.WhenAny(follow, Task.Delay(300));
        }

        var (followCode, followed, followError) = await follow;
        Assert.True(followCode == 0, followError);
        var lines = followed.TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length);
        // Scored rows of this metric, or the result of its defineModel command when the follower bound early enough.
        var rows = lines.Select(l => JsonNode.Parse(l)!).Where(n => n["dataType"] is null).ToList();
        Assert.All(lines.Select(l => JsonNode.Parse(l)!).Where(n => n["dataType"] is not null), n => Assert.Equal("model-cmd-result", (string?)n["dataType"]));
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal(_name, (string?)r["name"]));
        Assert.All(rows, r => Assert.InRange((double)r["anomaly"]!, 0, 1));

        await WaitUntilAsync(
            () => Task.FromResult(Run("data", _name, "--min-score", "0", "--format", "json").Output is var json
                && JsonNode.Parse(json)!["data"]!.AsArray().Count >= 300),
            "300 scored rows");

        (code, output, _) = Run("data", _name, "--limit", "2", "--format", "csv");
        Assert.Equal(0, code);
        var csv = output.TrimEnd('\n').Split('\n');
        Assert.Equal("rowid,timestamp,value,raw_anomaly_score,anomaly_score,display_value", csv[0]);
        Assert.StartsWith("1,2023-11-14T22:13:20Z,50,", csv[1], StringComparison.Ordinal);
        Assert.Equal(3, csv.Length);

        (code, output, _) = Run("data", _name, "--limit", "3");
        Assert.Equal(0, code);
        Assert.StartsWith("ROWID", output, StringComparison.Ordinal);
        Assert.Equal(4, output.TrimEnd('\n').Split('\n').Length);

        (code, output, _) = Run("metrics");
        Assert.Equal(0, code);
        Assert.Matches("^NAME +STATUS +ANOMALY +ROWS +UID", output);
        Assert.Contains(output.Split('\n'), l => l.StartsWith(_name, StringComparison.Ordinal) && l.Contains("ACTIVE", StringComparison.Ordinal));

        (code, output, _) = Run("metrics", "--status", "ACTIVE", "--json");
        Assert.Equal(0, code);
        Assert.Equal(_name, (string?)JsonNode.Parse(output)!["metrics"]![0]!["name"]);
    }

    [Fact]
    public void Export_import_unmonitor_and_delete()
    {
        Assert.Equal(0, Run("monitor", _name, "--min", "0", "--max", "10").Code);
        var file = Path.Combine(_directory, "export.json");
        var (code, output, error) = Run("export", _name, "--out", file);
        Assert.True(code == 0, error);
        Assert.Equal(_name, (string?)JsonNode.Parse(File.ReadAllText(file))!["metricSpec"]!["metric"]);

        Assert.Equal(0, Run("unmonitor", _name).Code);
        Assert.Contains("UNMONITORED", Run("metrics", "--json").Output, StringComparison.Ordinal);
        Assert.Equal(0, Run("delete", _name).Code);

        (code, _, error) = Run("data", _name);
        Assert.Equal(1, code);
        Assert.Contains(_name, error, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", error, StringComparison.Ordinal);

        (code, output, error) = Run("import", file);
        Assert.True(code == 0, error);
        Assert.StartsWith("imported " + _name, output, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_are_one_line_with_the_engines_message_and_the_exit_code()
    {
        var (code, _, error) = RunWith(["monitor", _name, "--min", "0", "--max", "1", "--url", _url, "--token", ""]);
        Assert.Equal(1, code);
        Assert.Contains("Authorization: Bearer", error, StringComparison.Ordinal);
        Assert.Contains("HTTP 401", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));

        (code, _, error) = RunWith(["metrics", "--url", "http://127.0.0.1:1"]);
        Assert.Equal(1, code);
        Assert.Contains("cannot reach the engine at http://127.0.0.1:1/", error, StringComparison.Ordinal);

        (code, _, error) = Run("monitor", _name, "--min", "0");
        Assert.Equal(2, code);
        Assert.Contains("both --min and --max", error, StringComparison.Ordinal);

        (code, _, error) = Run("monitor", _name, "--min", "zero", "--max", "1");
        Assert.Equal(2, code);
        Assert.Contains("'--min' expects a number, got 'zero'", error, StringComparison.Ordinal);

        (code, _, error) = Run("data", _name, "--format", "xml");
        Assert.Equal(2, code);
        Assert.Contains("table, csv or json", error, StringComparison.Ordinal);

        (code, _, error) = Run("metrics", "--status", "SLEEPING");
        Assert.Equal(1, code);
        Assert.Contains("'status'", error, StringComparison.Ordinal);

        (code, _, error) = RunWith(["send", "/no/such/file", "--port", _graphitePort.ToString(CultureInfo.InvariantCulture)]);
        Assert.Equal(1, code);
        Assert.Contains("/no/such/file", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_endpoint_counts_what_the_services_of_the_process_did()
    {
        Assert.Equal(0, Run("monitor", _name, "--min", "0", "--max", "100").Code);
        var file = Path.Combine(_directory, "lines.txt");
        var text = new StringBuilder("not a graphite line\n");
        for (int i = 0; i < 120; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{_name} {i % 17} {1_700_000_000 + (300 * i)}\n");
        }

        File.WriteAllText(file, text.ToString());
        Assert.Equal(0, RunWith(["send", file, "--host", "127.0.0.1", "--port", _graphitePort.ToString(CultureInfo.InvariantCulture)]).Code);

        using var http = new HttpClient { BaseAddress = new Uri(_url) };
        string metrics = "";
        await WaitUntilAsync(
            async () => Value(metrics = await http.GetStringAsync("/metrics"), "htmengine_anomaly_rows_scored_total") >= 120,
            "120 rows scored on /metrics");
        Assert.Equal(120, Value(metrics, "htmengine_listener_lines_accepted_total"));
        Assert.Equal(1, Value(metrics, "htmengine_listener_lines_rejected_total{reason=\"TooFewFields\"}") + Value(metrics, "htmengine_listener_lines_rejected_total{reason=\"TooManyFields\"}") + Value(metrics, "htmengine_listener_lines_rejected_total{reason=\"BadValue\"}"));
        Assert.Equal(120, Value(metrics, "htmengine_storer_samples_stored_total"));
        Assert.Equal(120, Value(metrics, "htmengine_models_rows_scored_total"));
        Assert.Equal(1, Value(metrics, "htmengine_models_hot"));
        Assert.Equal(1, Value(metrics, "htmengine_metrics{status=\"ACTIVE\"}"));
    }

    private static long Value(string metrics, string series)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return long.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    [Theory]
    [InlineData("metrics")]
    [InlineData("monitor")]
    [InlineData("unmonitor")]
    [InlineData("delete")]
    [InlineData("data")]
    [InlineData("export")]
    [InlineData("import")]
    [InlineData("send")]
    [InlineData("results")]
    public void Every_client_command_has_true_help(string command)
    {
        var (code, output, _) = RunWith([command, "--help"]);
        Assert.Equal(0, code);
        Assert.StartsWith("Usage: htmengine " + command, output, StringComparison.Ordinal);
    }

    private (int Code, string Output, string Error) Run(params string[] args) => RunWith([.. args, "--url", _url, "--token", Token]);

    private static (int Code, string Output, string Error) RunWith(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> probe, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!await probe())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(200);
        }
    }
}
