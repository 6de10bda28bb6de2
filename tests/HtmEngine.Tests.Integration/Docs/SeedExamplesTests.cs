using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using HtmEngine.Server.Commands.Client;
using HtmEngine.Server.Hosting;
using HtmEngine.Tests.Unit.Web;

namespace HtmEngine.Tests.Integration.Docs;

/// <summary>
/// <c>docs/examples.md</c> shows exactly the code of <see cref="SeedExamples"/>, and that code works against a running
/// engine (embedded backend, in this process).
/// </summary>
public sealed class SeedExamplesTests : IAsyncLifetime
{
    private const int Rows = 150;
    private readonly string _name = "docs." + Guid.NewGuid().ToString("N")[..8] + ".stats";
    private InProcessEngine _engine = null!;

    public async Task InitializeAsync() => _engine = await InProcessEngine.StartAsync();

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    [Theory]
    [InlineData("post-processing")]
    [InlineData("real-time")]
    public void The_document_shows_exactly_the_tested_code(string example)
    {
        string root = TestServers.RepositoryRoot;
        var source = File.ReadAllLines(Path.Combine(root, "tests", "HtmEngine.Tests.Integration", "Docs", "SeedExamples.cs"));
        int open = Array.FindIndex(source, l => l.Trim() == $"// <{example}>");
        int close = Array.FindIndex(source, l => l.Trim() == $"// </{example}>");
        Assert.True(open >= 0 && close > open, $"region {example} not found in SeedExamples.cs");
        int indent = source[open].Length - source[open].TrimStart().Length;
        var code = source[(open + 1)..close].Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()).ToList();
        while (code.Count > 0 && code[^1].Length == 0)
        {
            code.RemoveAt(code.Count - 1);
        }

        var doc = File.ReadAllLines(Path.Combine(root, "docs", "examples.md"));
        int marker = Array.FindIndex(doc, l => l.Trim() == $"<!-- example: {example} -->");
        Assert.True(marker >= 0 && doc[marker + 1] == "```csharp", $"no csharp block after the {example} marker in docs/examples.md");
        int end = Array.FindIndex(doc, marker + 2, l => l == "```");
        Assert.Equal(code, doc[(marker + 2)..end]);
    }

    [Fact]
    public async Task Post_processing_prints_every_row_with_its_score()
    {
        var (epochs, values) = await FeedAsync();
        var output = new StringWriter();
        await SeedExamples.PostProcessAsync(EngineComposition.Runtime(_engine.Options).Storage, _name, output);

        var lines = output.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(Rows, lines.Length);
        for (int i = 0; i < Rows; i++)
        {
            var fields = lines[i].Split(' ');
            Assert.Equal(4, fields.Length);
            Assert.Equal(_name, fields[0]);
            Assert.Equal(values[i], double.Parse(fields[1], CultureInfo.InvariantCulture));
            Assert.Equal(epochs[i], long.Parse(fields[2], CultureInfo.InvariantCulture));
            Assert.InRange(double.Parse(fields[3], CultureInfo.InvariantCulture), 0, 1);
        }
    }

    [Fact]
    public async Task Real_time_subscriber_sees_the_define_result_and_every_row()
    {
        using var stop = new CancellationTokenSource();
        var output = new SynchronizedStringWriter();
        var follow = SeedExamples.FollowResultsAsync(_engine.Runtime.Bus, _engine.Options.MetricStreamer.ResultsExchangeName, "docs.subscriber." + Guid.NewGuid().ToString("N"), output, stop.Token);

        await FeedAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (RowsHandled(output.ToString()) < Rows)
        {
            Assert.True(DateTime.UtcNow < deadline, "the subscriber did not handle every row: " + output);
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await follow.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Matches("Handling model command result for [0-9a-f]{32}: defineModel status 0", output.ToString());
        Assert.Equal(Rows, RowsHandled(output.ToString()));
    }

    /// <summary>Monitors the metric, sends the rows over Graphite and waits until the last one is scored.</summary>
    private async Task<(long[] Epochs, double[] Values)> FeedAsync()
    {
        using var http = new HttpClient { BaseAddress = _engine.Url };
        var monitor = await http.PostAsJsonAsync("/api/models", new JsonObject
        {
            ["datasource"] = "custom",
            ["metricSpec"] = new JsonObject { ["metric"] = _name },
            ["modelParams"] = new JsonObject { ["min"] = 0, ["max"] = 100 },
        });
        Assert.True(monitor.IsSuccessStatusCode, await monitor.Content.ReadAsStringAsync());

        var epochs = new long[Rows];
        var values = new double[Rows];
        var text = new StringBuilder();
        for (int i = 0; i < Rows; i++)
        {
            epochs[i] = 1_443_197_361 + (300L * i);
            values[i] = 21 + (i % 9);
            text.Append(CultureInfo.InvariantCulture, $"{_name} {values[i]} {epochs[i]}\n");
        }

        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())))
        {
            await SendCommand.SendAsync(input, "127.0.0.1", _engine.GraphitePort);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            var newest = (await http.GetFromJsonAsync<JsonNode>($"/api/metrics/{_name}/data?order=desc&limit=1&minScore=0"))!["data"]!.AsArray();
            if (newest.Count == 1 && (long)newest[0]!["rowid"]! == Rows)
            {
                return (epochs, values);
            }

            Assert.True(DateTime.UtcNow < deadline, "the rows were not scored in time");
            await Task.Delay(100);
        }
    }

    private int RowsHandled(string output)
    {
        int rows = 0;
        foreach (var line in output.Split('\n'))
        {
            const string Prefix = "Handling ";
            if (line.StartsWith(Prefix, StringComparison.Ordinal) && line.EndsWith(" - " + _name, StringComparison.Ordinal))
            {
                rows += int.Parse(line[Prefix.Length..line.IndexOf(' ', Prefix.Length)], CultureInfo.InvariantCulture);
            }
        }

        return rows;
    }

    /// <summary>A string writer the bus's consumer thread and the test can share.</summary>
    private sealed class SynchronizedStringWriter : StringWriter
    {
        private readonly Lock _gate = new();

        public override void WriteLine(string? value)
        {
            lock (_gate)
            {
                base.WriteLine(value);
            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return base.ToString();
            }
        }
    }
}
