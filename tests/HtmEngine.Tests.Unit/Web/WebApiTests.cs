using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Server.Web;
using HtmEngine.Storage;
using HtmEngine.Tests.Unit.Configuration;

namespace HtmEngine.Tests.Unit.Web;

/// <summary>
/// The HTTP API on the embedded backend (SQLite in a temp directory, in-process bus), served by Kestrel on a free
/// loopback port and called over real HTTP: success, not found, bad input (each field) and the token.
/// </summary>
public sealed class WebApiTests : IAsyncLifetime
{
    private const string Token = "s3cret-token";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "htmengine-web-" + Guid.NewGuid().ToString("N"));
    private readonly string _prefix = "web." + Guid.NewGuid().ToString("N")[..8] + ".";
    private EngineRuntime _runtime = null!;
    private WebService _web = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var shipped = ConfigLoader.Load(TempConfig.ShippedConf);
        var engine = shipped with { Repository = shipped.Repository with { SqlitePath = Path.Combine(_directory, "engine.db") } };
        _runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(engine));
        _web = new WebService(new WebOptions(new ListenEndpoint("127.0.0.1", 0), Token), _runtime, EngineComposition.Adapter(engine, _runtime));
        await _web.StartAsync(CancellationToken.None);
        _http = new HttpClient { BaseAddress = _web.BaseAddress };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _web.StopAsync(CancellationToken.None);
        await _web.DisposeAsync();
        await _runtime.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Healthz_is_ready_when_storage_and_bus_answer()
    {
        var (status, body) = await GetJsonAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready", (string?)body["status"]);
        Assert.Equal("ok", (string?)body["storage"]);
        Assert.Equal("ok", (string?)body["bus"]);
    }

    [Fact]
    public async Task Monitor_then_get_by_name_and_uid_then_list_by_status()
    {
        string name = _prefix + "cpu";
        var (status, created) = await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 0, 100), Token);
        Assert.Equal(HttpStatusCode.Created, status);
        string uid = (string)created["uid"]!;
        Assert.Equal(name, (string?)created["name"]);
        Assert.Equal("CREATE_PENDING", (string?)created["status"]);
        Assert.Equal(100, (double)created["parameters"]!["modelParams"]!["max"]!);

        var (byName, metric) = await GetJsonAsync("/api/metrics/" + name);
        Assert.Equal(HttpStatusCode.OK, byName);
        Assert.Equal(uid, (string?)metric["uid"]);
        var (byUid, same) = await GetJsonAsync("/api/metrics/" + uid);
        Assert.Equal(HttpStatusCode.OK, byUid);
        Assert.Equal(name, (string?)same["name"]);

        var (_, pending) = await GetJsonAsync("/api/metrics?status=CREATE_PENDING");
        Assert.Contains(pending["metrics"]!.AsArray(), m => (string?)m!["uid"] == uid);
        var (_, active) = await GetJsonAsync("/api/metrics?status=active");
        Assert.DoesNotContain(active["metrics"]!.AsArray(), m => (string?)m!["uid"] == uid);
    }

    [Fact]
    public async Task Mutating_calls_without_the_right_token_are_refused_and_change_nothing()
    {
        string name = _prefix + "tokenless";
        var (none, error) = await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 0, 1), token: null);
        Assert.Equal(HttpStatusCode.Unauthorized, none);
        Assert.Contains("Authorization: Bearer", (string?)error["error"], StringComparison.Ordinal);
        var (wrong, _) = await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 0, 1), token: "guess");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        var (missing, _) = await GetJsonAsync("/api/metrics/" + name);
        Assert.Equal(HttpStatusCode.NotFound, missing);

        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/api/metrics/" + name);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(delete)).StatusCode);

        // Reads need no token.
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync("/api/metrics")).Status);
    }

    [Theory]
    [InlineData("GET", "/api/metrics/no.such.metric")]
    [InlineData("GET", "/api/metrics/no.such.metric/data")]
    [InlineData("GET", "/api/models/no.such.metric/export")]
    [InlineData("DELETE", "/api/models/no.such.metric")]
    [InlineData("DELETE", "/api/metrics/no.such.metric")]
    public async Task Unknown_metrics_are_404_with_a_message_naming_them(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Contains("no.such.metric", (string?)body["error"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/models", "not json", "not JSON")]
    [InlineData("/api/models", "[1, 2]", "JSON object")]
    [InlineData("/api/models", "{\"datasource\":\"custom\"}", "metricSpec")]
    [InlineData("/api/models", "{\"datasource\":\"custom\",\"metricSpec\":{}}", "metric")]
    [InlineData("/api/models", "{\"datasource\":\"elsewhere\",\"metricSpec\":{\"metric\":\"x\"}}", "datasource")]
    [InlineData("/api/models", "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"x\"},\"modelParams\":{\"min\":\"low\",\"max\":1}}", "min")]
    [InlineData("/api/models/import", "not json", "not JSON")]
    [InlineData("/api/models/import", "\"text\"", "JSON object")]
    [InlineData("/api/models/import", "{\"datasource\":\"custom\",\"metricSpec\":{}}", "metric")]
    [InlineData("/api/models/import", "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"x\"},\"data\":\"rows\"}", "data")]
    public async Task Bad_monitor_and_import_bodies_are_400_naming_the_field(string path, string body, string expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await _http.SendAsync(request);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (string?)json["error"], StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Data_is_filtered_limited_and_served_as_json_or_csv()
    {
        string name = _prefix + "data";
        var (_, created) = await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 0, 100), Token);
        string uid = (string)created["uid"]!;
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var samples = new Sample[5];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = new Sample(start.AddMinutes(5 * i), 10 + i);
        }

        await _runtime.Repository.StoreSamplesAsync(uid, samples);
        await _runtime.Repository.UpdateScoresAsync(uid, new ScoreUpdate[]
        {
            new(1, 0.1, 0.2, 0), new(2, 0.3, 0.9, 1), new(3, 0.5, 0.6, 0), new(4, 0.2, 0.95, 2),
        });

        var (status, all) = await GetJsonAsync($"/api/metrics/{name}/data");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, all["data"]!.AsArray().Count);
        Assert.Null(all["data"]![4]!["anomalyScore"]);

        var (_, high) = await GetJsonAsync($"/api/metrics/{name}/data?minScore=0.9");
        Assert.Equal([2L, 4L], high["data"]!.AsArray().Select(r => (long)r!["rowid"]!).ToArray());

        var (_, window) = await GetJsonAsync($"/api/metrics/{name}/data?from=2024-01-01T00:05:00Z&to={new DateTimeOffset(start.AddMinutes(15)).ToUnixTimeSeconds()}&limit=2");
        Assert.Equal([2L, 3L], window["data"]!.AsArray().Select(r => (long)r!["rowid"]!).ToArray());
        Assert.Equal("2024-01-01T00:05:00Z", (string?)window["data"]![0]!["timestamp"]);

        var (_, newest) = await GetJsonAsync($"/api/metrics/{name}/data?order=desc&limit=2");
        Assert.Equal([5L, 4L], newest["data"]!.AsArray().Select(r => (long)r!["rowid"]!).ToArray());

        using var csv = await _http.GetAsync($"/api/metrics/{uid}/data?format=csv&limit=2");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("rowid,timestamp,value,raw_anomaly_score,anomaly_score,display_value", lines[0]);
        Assert.Equal("1,2024-01-01T00:00:00Z,10,0.1,0.2,0", lines[1]);
        Assert.Equal(3, lines.Length);

        // The list ranks by the newest scored row's anomaly score.
        var (_, ranked) = await GetJsonAsync("/api/metrics?sort=anomaly");
        var first = ranked["metrics"]![0]!;
        Assert.Equal(uid, (string?)first["uid"]);
        Assert.Equal(0.95, (double)first["currentAnomaly"]!);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=many", "limit")]
    [InlineData("minScore=2", "minScore")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=soon", "to")]
    [InlineData("format=xml", "format")]
    [InlineData("order=up", "order")]
    public async Task Bad_data_queries_are_400_naming_the_field(string query, string field)
    {
        string name = _prefix + "badquery";
        await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 0, 1), Token);
        var (status, body) = await GetJsonAsync($"/api/metrics/{name}/data?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'" + field + "'", (string?)body["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_list_queries_are_400()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await GetJsonAsync("/api/metrics?status=SLEEPING")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await GetJsonAsync("/api/metrics?sort=size")).Status);
    }

    [Fact]
    public async Task Unmonitor_export_import_and_delete()
    {
        string name = _prefix + "lifecycle";
        var (_, created) = await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 5, 50), Token);
        string uid = (string)created["uid"]!;

        var (again, conflict) = await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(name, 5, 50), Token);
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.NotNull((string?)conflict["error"]);

        var (exported, export) = await GetJsonAsync($"/api/models/{name}/export");
        Assert.Equal(HttpStatusCode.OK, exported);
        Assert.Equal(name, (string?)export["metricSpec"]!["metric"]);

        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(HttpMethod.Delete, "/api/models/" + uid));
        var (_, unmonitored) = await GetJsonAsync("/api/metrics/" + uid);
        Assert.Equal("UNMONITORED", (string?)unmonitored["status"]);
        // Unmonitoring works from any status (spec §4.4), so a repeat is not an error.
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(HttpMethod.Delete, "/api/models/" + name));

        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(HttpMethod.Delete, "/api/metrics/" + name));
        Assert.Equal(HttpStatusCode.NotFound, (await GetJsonAsync("/api/metrics/" + uid)).Status);

        var (imported, back) = await SendJsonAsync(HttpMethod.Post, "/api/models/import", export, Token);
        Assert.Equal(HttpStatusCode.Created, imported);
        Assert.Equal(name, (string?)back["name"]);
        Assert.NotEqual("UNMONITORED", (string?)back["status"]);
    }

    [Fact]
    public async Task Prometheus_text_counts_metrics_by_status_and_shows_queue_depths()
    {
        await SendJsonAsync(HttpMethod.Post, "/api/models", Spec(_prefix + "prom", 0, 1), Token);
        using var response = await _http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE htmengine_metrics gauge", text, StringComparison.Ordinal);
        Assert.Contains("htmengine_metrics{status=\"CREATE_PENDING\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("htmengine_metrics{status=\"ACTIVE\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("htmengine_queue_ready_messages{queue=\"htmengine.metric.custom.data\"} 0", text, StringComparison.Ordinal);

        // The defineModel command waits in a shard queue: no model runner is running here.
        Assert.Matches("htmengine_queue_ready_messages\\{queue=\"htmengine\\.mswapper\\.model\\.input\\.shard\\.\\d+\"\\} 1", text);
    }

    [Fact]
    public void A_non_loopback_address_without_a_token_is_refused_at_start()
    {
        var error = Assert.Throws<ConfigurationException>(() => new WebService(new WebOptions(new ListenEndpoint("0.0.0.0", 8080), ""), _runtime, EngineComposition.Adapter(ConfigLoader.Load(TempConfig.ShippedConf), _runtime)));
        Assert.Contains("[web] listen = 0.0.0.0:8080", error.Message, StringComparison.Ordinal);
        Assert.Contains("[web] token", error.Message, StringComparison.Ordinal);

        // With a token the same address is accepted (not started here).
        _ = new WebService(new WebOptions(new ListenEndpoint("0.0.0.0", 8080), "t"), _runtime, EngineComposition.Adapter(ConfigLoader.Load(TempConfig.ShippedConf), _runtime));
    }

    private static JsonObject Spec(string name, double min, double max) => new()
    {
        ["datasource"] = "custom",
        ["metricSpec"] = new JsonObject { ["metric"] = name },
        ["modelParams"] = new JsonObject { ["min"] = min, ["max"] = max },
    };

    private async Task<(HttpStatusCode Status, JsonNode Body)> GetJsonAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private async Task<(HttpStatusCode Status, JsonNode Body)> SendJsonAsync(HttpMethod method, string path, JsonNode? body, string? token)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!);
    }

    private async Task<HttpStatusCode> SendAsync(HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }
}
