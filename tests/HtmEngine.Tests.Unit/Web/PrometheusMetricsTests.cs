using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HtmEngine.Runtime.Hosting;

namespace HtmEngine.Tests.Unit.Web;

/// <summary>
/// <c>/metrics</c> of a whole engine in this process (embedded backend) scraped after streaming Graphite samples
/// (issue #8): the stage latency histograms and the cold model count, and the validity of the whole Prometheus text.
/// </summary>
public sealed class PrometheusMetricsTests
{
    private const string Histogram = "htmengine_stage_duration_seconds";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(120);
    private readonly string _prefix = "prom." + Guid.NewGuid().ToString("N")[..8] + ".";

    [Fact]
    public async Task Stage_histograms_count_the_work_each_service_did()
    {
        await using var engine = await InProcessEngine.StartAsync();
        using var http = new HttpClient { BaseAddress = engine.Url };
        string name = _prefix + "cpu";
        await MonitorAsync(http, name);
        await SendAsync(engine.GraphitePort, name, 0, 120);
        var scrape = await WaitForAsync(http, s => s.Value("htmengine_anomaly_rows_scored_total") >= 120, "120 rows scored");

        // Every stage of every service is a histogram, whether it ran or not.
        foreach (var (service, stages) in new[]
        {
            ("storer", new[] { "decode", "store", "forward", "activate" }),
            ("models", new[] { "score", "read", "publish", "checkpoint", "load", "build", "lookup" }),
            ("anomaly", new[] { "metric", "history", "likelihood", "commit", "publish" }),
        })
        {
            foreach (string stage in stages)
            {
                Assert.True(scrape.Has(Series(service, stage, "_count")), $"no histogram for {service}/{stage}");
            }
        }

        // Where work happened the counts are positive and the sums plausible; a model step per scored row.
        Assert.Equal(scrape.Value("htmengine_models_rows_scored_total"), scrape.Value(Series("models", "score", "_count")));
        Assert.Equal(120, scrape.Value(Series("models", "score", "_count")));
        foreach (var (service, stage) in new[]
        {
            ("storer", "store"), ("storer", "forward"), ("models", "score"), ("models", "publish"), ("models", "checkpoint"),
            ("models", "build"), ("anomaly", "likelihood"), ("anomaly", "commit"), ("anomaly", "publish"),
        })
        {
            double count = scrape.Value(Series(service, stage, "_count"));
            double sum = scrape.Value(Series(service, stage, "_sum"));
            Assert.True(count > 0, $"{service}/{stage}: no calls counted");
            Assert.True(sum > 0 && sum < count * 60, $"{service}/{stage}: {sum} s for {count} calls");
        }

        // Nothing was swapped with the default budget: nothing loaded, one hot model, none cold.
        Assert.Equal(0, scrape.Value("htmengine_models_loaded_total"));
        Assert.Equal(1, scrape.Value("htmengine_models_hot"));
        Assert.Equal(0, scrape.Value("htmengine_models_cold"));
    }

    [Fact]
    public async Task Cold_models_count_the_models_swapped_out_to_their_checkpoints()
    {
        // A budget that holds one model (3.4 MB fresh, under 5 MB by the estimate after 60 rows) but not two: using a
        // model swaps the other one out.
        await using var engine = await InProcessEngine.StartAsync(memoryBudgetMb: 7);
        using var http = new HttpClient { BaseAddress = engine.Url };
        var scrape = await ScrapeAsync(http);
        Assert.Equal(0, scrape.Value("htmengine_models_hot"));
        Assert.Equal(0, scrape.Value("htmengine_models_cold"));

        string a = _prefix + "a";
        string b = _prefix + "b";
        await MonitorAsync(http, a);
        await SendAsync(engine.GraphitePort, a, 0, 40);
        scrape = await WaitForAsync(http, s => s.Value("htmengine_anomaly_rows_scored_total") >= 40, "a's 40 rows scored");
        Assert.Equal(1, scrape.Value("htmengine_models_hot"));
        Assert.Equal(0, scrape.Value("htmengine_models_cold"));

        // Defining b swaps a out.
        await MonitorAsync(http, b);
        scrape = await WaitForAsync(http, s => s.Value("htmengine_models_cold") == 1, "a swapped out");
        Assert.Equal(1, scrape.Value("htmengine_models_hot"));
        Assert.True(scrape.Value("htmengine_models_evictions_total") >= 1);
        double loads = scrape.Value(Series("models", "load", "_count"));

        // Rows of a swap it back in (a checkpoint load) and b out: still one hot, one cold.
        await SendAsync(engine.GraphitePort, b, 0, 40);
        await WaitForAsync(http, s => s.Value("htmengine_anomaly_rows_scored_total") >= 80, "b's 40 rows scored");
        await SendAsync(engine.GraphitePort, a, 40, 60);
        scrape = await WaitForAsync(http, s => s.Value("htmengine_anomaly_rows_scored_total") >= 100, "a's next 20 rows scored");
        Assert.Equal(1, scrape.Value("htmengine_models_hot"));
        Assert.Equal(1, scrape.Value("htmengine_models_cold"));
        Assert.True(scrape.Value(Series("models", "load", "_count")) > loads, "a was not loaded from its checkpoint");
        Assert.True(scrape.Value(Series("models", "load", "_sum")) > 0);

        // Deleting the cold model's metric removes its checkpoint: nothing cold is left.
        using (var delete = await http.DeleteAsync("/api/models/" + b))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        await WaitForAsync(http, s => s.Value("htmengine_models_cold") == 0 && s.Value("htmengine_models_hot") == 1, "b's model deleted");
    }

    [Fact]
    public void A_call_lands_in_the_first_bucket_whose_bound_it_does_not_exceed()
    {
        var timings = new StageTimings("fast", "slow");
        long now = Stopwatch.GetTimestamp();
        timings.Add(0, now); // ~0 s
        timings.Add(1, now - (3 * Stopwatch.Frequency)); // ~3 s: above 2.5, within 5
        timings.Add(1, now - (20 * Stopwatch.Frequency)); // above the largest bound

        var bounds = StageTimings.BucketUpperBounds;
        Span<long> buckets = stackalloc long[StageTimings.BucketCount];
        timings.CopyCumulativeBuckets(0, buckets);
        Assert.Equal(1, buckets[0]);
        Assert.Equal(1, buckets[^1]);

        timings.CopyCumulativeBuckets(1, buckets);
        int at2_5 = IndexOf(bounds, 2.5);
        Assert.Equal(0, buckets[at2_5]);
        Assert.Equal(1, buckets[at2_5 + 1]);
        Assert.Equal(5.0, bounds[at2_5 + 1]);
        Assert.Equal(1, buckets[bounds.Count - 1]);
        Assert.Equal(2, buckets[^1]);
        Assert.Equal(2, timings.Calls(1));

        timings.Reset();
        timings.CopyCumulativeBuckets(1, buckets);
        Assert.Equal(0, buckets[^1]);
    }

    private static int IndexOf(IReadOnlyList<double> bounds, double bound)
    {
        for (int i = 0; i < bounds.Count; i++)
        {
            if (bounds[i] == bound)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"no bucket bound {bound}");
    }

    private static string Series(string service, string stage, string suffix) =>
        $"{Histogram}{suffix}{{service=\"{service}\",stage=\"{stage}\"}}";

    private static async Task MonitorAsync(HttpClient http, string name)
    {
        string body = "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"" + name + "\"},\"modelParams\":{\"min\":0,\"max\":100}}";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/api/models", content);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static async Task SendAsync(int port, string name, int from, int to)
    {
        var text = new StringBuilder();
        for (int i = from; i < to; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name} {50 + (20 * Math.Sin(i / 5.0)):F2} {1_700_000_000 + (300 * i)}\n");
        }

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static async Task<Scrape> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return Scrape.Parse(await response.Content.ReadAsStringAsync());
    }

    private static async Task<Scrape> WaitForAsync(HttpClient http, Func<Scrape, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            var scrape = await ScrapeAsync(http);
            if (condition(scrape))
            {
                return scrape;
            }

            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what + ": " + scrape.Text);
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// A scrape, checked against the text format while parsed: HELP and TYPE once per family and before its samples,
    /// a family's samples together, numeric values, and histograms whose buckets ascend and end in <c>+Inf</c> equal to
    /// <c>_count</c>.
    /// </summary>
    private sealed class Scrape
    {
        private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);

        /// <summary>The engine's counters, for a failure message.</summary>
        public string Text { get; private set; } = string.Empty;

        public bool Has(string series) => _values.ContainsKey(series);

        public double Value(string series) =>
            _values.TryGetValue(series, out double value) ? value : throw new Xunit.Sdk.XunitException($"no series {series} on /metrics");

        public static Scrape Parse(string text)
        {
            var scrape = new Scrape { Text = string.Join(" | ", text.Split('\n').Where(l => l.StartsWith("htmengine_models", StringComparison.Ordinal) || l.StartsWith("htmengine_metrics", StringComparison.Ordinal))) };
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            var helps = new HashSet<string>(StringComparer.Ordinal);
            var finished = new HashSet<string>(StringComparer.Ordinal);
            string? current = null;
            Assert.EndsWith("\n", text, StringComparison.Ordinal);
            foreach (string line in text.TrimEnd('\n').Split('\n'))
            {
                if (line.StartsWith("# HELP ", StringComparison.Ordinal))
                {
                    string family = line[7..].Split(' ')[0];
                    Assert.True(helps.Add(family), $"HELP of {family} twice");
                    continue;
                }

                if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    string[] parts = line[7..].Split(' ');
                    Assert.Equal(2, parts.Length);
                    Assert.True(types.TryAdd(parts[0], parts[1]), $"TYPE of {parts[0]} twice");
                    Assert.Contains(parts[1], (string[])["counter", "gauge", "histogram", "summary", "untyped"]);
                    continue;
                }

                int space = line.LastIndexOf(' ');
                Assert.True(space > 0, $"not a sample line: '{line}'");
                string series = line[..space];
                Assert.True(double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double value), $"bad value in '{line}'");
                Assert.True(scrape._values.TryAdd(series, value), $"series {series} twice");
                int brace = series.IndexOf('{', StringComparison.Ordinal);
                string name = brace < 0 ? series : series[..brace];
                string familyOf = FamilyOf(name, types);
                Assert.True(types.ContainsKey(familyOf), $"sample {series} before the TYPE of its family");
                if (familyOf != current)
                {
                    Assert.False(finished.Contains(familyOf), $"samples of {familyOf} are split by other families");
                    if (current is not null)
                    {
                        finished.Add(current);
                    }

                    current = familyOf;
                }
            }

            foreach (var (family, type) in types)
            {
                Assert.Contains(family, helps);
                if (type == "histogram")
                {
                    scrape.CheckHistogram(family);
                }
            }

            return scrape;
        }

        private static string FamilyOf(string name, Dictionary<string, string> types)
        {
            foreach (string suffix in (string[])["_bucket", "_sum", "_count"])
            {
                if (name.EndsWith(suffix, StringComparison.Ordinal) && types.TryGetValue(name[..^suffix.Length], out string? type) && type == "histogram")
                {
                    return name[..^suffix.Length];
                }
            }

            return name;
        }

        private void CheckHistogram(string family)
        {
            // Group the buckets by their labels without le, in the order written.
            var buckets = new Dictionary<string, List<(double Le, double Count)>>(StringComparer.Ordinal);
            foreach (var (series, value) in _values)
            {
                if (!series.StartsWith(family + "_bucket{", StringComparison.Ordinal))
                {
                    continue;
                }

                int le = series.IndexOf(",le=\"", StringComparison.Ordinal);
                Assert.True(le > 0, $"bucket without le: {series}");
                string labels = series[(family.Length + "_bucket{".Length)..le];
                string bound = series[(le + 5)..^2];
                double upper = bound == "+Inf" ? double.PositiveInfinity : double.Parse(bound, NumberStyles.Float, CultureInfo.InvariantCulture);
                if (!buckets.TryGetValue(labels, out var list))
                {
                    buckets[labels] = list = [];
                }

                list.Add((upper, value));
            }

            Assert.NotEmpty(buckets);
            foreach (var (labels, list) in buckets)
            {
                for (int i = 1; i < list.Count; i++)
                {
                    Assert.True(list[i].Le > list[i - 1].Le, $"{family}{{{labels}}}: bucket bounds not ascending");
                    Assert.True(list[i].Count >= list[i - 1].Count, $"{family}{{{labels}}}: bucket counts not cumulative");
                }

                Assert.Equal(double.PositiveInfinity, list[^1].Le);
                Assert.Equal(list[^1].Count, Value($"{family}_count{{{labels}}}"));
                Assert.True(Value($"{family}_sum{{{labels}}}") >= 0);
            }
        }
    }
}
