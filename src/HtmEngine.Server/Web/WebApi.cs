using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using HtmEngine.Bus;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Server.Web;

/// <summary>
/// The HTTP API (issue #8): metrics, their data, monitor/unmonitor/delete/export/import through the datasource
/// adapter, <c>/healthz</c> and Prometheus <c>/metrics</c>. Every answer is JSON (CSV for data on request); every error
/// is <c>{"error": "..."}</c> with the status code that fits it. A metric is named in a path by its uid or its name.
/// </summary>
public sealed partial class WebApi
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = false };
    private readonly EngineRuntime _runtime;
    private readonly DatasourceAdapter _adapter;
    private readonly byte[] _token;
    private readonly ILogger _logger;
    private IReadOnlyList<IEngineService> _services = [];

    /// <summary>Creates the API over the engine's runtime.</summary>
    /// <param name="runtime">Repository and bus.</param>
    /// <param name="adapter">The datasource adapter.</param>
    /// <param name="token">Bearer token for mutating calls; empty = none.</param>
    /// <param name="logger">Where unexpected errors are logged.</param>
    public WebApi(EngineRuntime runtime, DatasourceAdapter adapter, string token, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(token);
        _runtime = runtime;
        _adapter = adapter;
        _token = Encoding.UTF8.GetBytes(token);
        _logger = logger;
    }

    /// <summary>The services of this process whose counters <c>/metrics</c> shows.</summary>
    /// <param name="services">The services, this one included or not.</param>
    public void Observe(IReadOnlyList<IEngineService> services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _services = services;
    }

    /// <summary>Adds the routes to <paramref name="routes"/>.</summary>
    /// <param name="routes">The application.</param>
    public void Map(IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        routes.MapGet("/healthz", c => Guard(c, mutating: false, HealthAsync));
        routes.MapGet("/metrics", c => Guard(c, mutating: false, PrometheusAsync));
        routes.MapGet("/api/metrics", c => Guard(c, mutating: false, ListMetricsAsync));
        routes.MapGet("/api/metrics/{id}", c => Guard(c, mutating: false, GetMetricAsync));
        routes.MapGet("/api/metrics/{id}/data", c => Guard(c, mutating: false, GetDataAsync));
        routes.MapDelete("/api/metrics/{id}", c => Guard(c, mutating: true, DeleteMetricAsync));
        routes.MapPost("/api/models", c => Guard(c, mutating: true, MonitorAsync));
        routes.MapDelete("/api/models/{id}", c => Guard(c, mutating: true, UnmonitorAsync));
        routes.MapGet("/api/models/{id}/export", c => Guard(c, mutating: false, ExportAsync));
        routes.MapPost("/api/models/import", c => Guard(c, mutating: true, ImportAsync));
        routes.MapGet("/api/results", c => Guard(c, mutating: false, ResultsAsync));
    }

    /// <summary>Runs a handler: checks the token of mutating calls and turns exceptions into JSON errors.</summary>
    private async Task Guard(HttpContext context, bool mutating, Func<HttpContext, Task> handler)
    {
        if (mutating && _token.Length > 0 && !HasToken(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ErrorAsync(context, StatusCodes.Status401Unauthorized, "this call changes the engine and needs the header 'Authorization: Bearer <[web] token>'").ConfigureAwait(false);
            return;
        }

        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (Exception e) when (Map(e) is { } status && !context.Response.HasStarted)
        {
            await ErrorAsync(context, status, e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
        {
            WebLog.Unexpected(_logger, context.Request.Method, context.Request.Path, e);
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, $"internal error ({e.GetType().Name}); the engine's log has the details").ConfigureAwait(false);
        }
    }

    private static int? Map(Exception e) => e switch
    {
        ObjectNotFoundException or MetricNotFoundException => StatusCodes.Status404NotFound,
        InvalidRequestException or BadRequestException or MetricNotSupportedException => StatusCodes.Status400BadRequest,
        ObjectAlreadyExistsException or MetricNotMonitoredException or MetricNotActiveException or MetricStatusChangedException => StatusCodes.Status409Conflict,
        MetricStatisticsNotReadyException => StatusCodes.Status409Conflict,
        StorageConnectionException => StatusCodes.Status503ServiceUnavailable,
        _ => null,
    };

    private bool HasToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        const string Prefix = "Bearer ";
        if (header is null || !header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Prefix.Length..].Trim()), _token);
    }

    private async Task HealthAsync(HttpContext context)
    {
        string storage = "ok";
        string bus = "ok";
        try
        {
            await _runtime.Repository.GetMetricAsync("healthz-probe", context.RequestAborted).ConfigureAwait(false);
        }
        catch (MetricNotFoundException)
        {
            // The database answered.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            storage = e.Message;
        }

        try
        {
            await _runtime.Bus.GetReadyCountAsync(_runtime.Options.MetricDataQueue, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            bus = e.Message;
        }

        bool ready = storage == "ok" && bus == "ok";
        await JsonAsync(context, ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable, new JsonObject
        {
            ["status"] = ready ? "ready" : "not ready",
            ["storage"] = storage,
            ["bus"] = bus,
        }).ConfigureAwait(false);
    }

    private async Task ListMetricsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        MetricStatus? status = query.TryGetValue("status", out var s) ? ParseStatus(s.ToString()) : null;
        string sort = query.TryGetValue("sort", out var o) ? o.ToString() : "name";
        if (sort is not ("name" or "anomaly"))
        {
            throw new BadRequestException($"query field 'sort': expected 'name' or 'anomaly', got '{sort}'");
        }

        var metrics = await _runtime.Repository.ListMetricsAsync(status: status, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        var rows = new List<(MetricRow Metric, MetricDataRow? Newest)>(metrics.Count);
        foreach (var metric in metrics)
        {
            rows.Add((metric, await NewestScoredRowAsync(metric, context.RequestAborted).ConfigureAwait(false)));
        }

        if (sort == "anomaly")
        {
            // Highest current anomaly first; metrics without a score last; ties by name.
            rows.Sort(static (a, b) =>
            {
                int c = (b.Newest?.AnomalyScore ?? -1).CompareTo(a.Newest?.AnomalyScore ?? -1);
                return c != 0 ? c : string.CompareOrdinal(a.Metric.Name, b.Metric.Name);
            });
        }

        var array = new JsonArray();
        foreach (var (metric, newest) in rows)
        {
            array.Add((JsonNode)MetricJson(metric, newest));
        }

        await JsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["metrics"] = array }).ConfigureAwait(false);
    }

    private async Task GetMetricAsync(HttpContext context)
    {
        var metric = await ResolveAsync(context).ConfigureAwait(false);
        var newest = await NewestScoredRowAsync(metric, context.RequestAborted).ConfigureAwait(false);
        await JsonAsync(context, StatusCodes.Status200OK, MetricJson(metric, newest)).ConfigureAwait(false);
    }

    private async Task GetDataAsync(HttpContext context)
    {
        var metric = await ResolveAsync(context).ConfigureAwait(false);
        var q = context.Request.Query;
        var query = new MetricDataQuery
        {
            Uid = metric.Uid,
            FromTimestamp = q.TryGetValue("from", out var from) ? ParseTime("from", from.ToString()) : null,
            ToTimestamp = q.TryGetValue("to", out var to) ? ParseTime("to", to.ToString()) : null,
            MinScore = q.TryGetValue("minScore", out var min) ? ParseScore(min.ToString()) : null,
            Limit = q.TryGetValue("limit", out var limit) ? ParseLimit(limit.ToString()) : null,
            Sort = !q.TryGetValue("order", out var order) ? MetricDataSort.RowidAscending : order.ToString() switch
            {
                "asc" => MetricDataSort.RowidAscending,
                "desc" => MetricDataSort.RowidDescending,
                var other => throw new BadRequestException($"query field 'order': expected 'asc' or 'desc', got '{other}'"),
            },
        };
        string format = q.TryGetValue("format", out var f) ? f.ToString() : "json";
        if (format is not ("json" or "csv"))
        {
            throw new BadRequestException($"query field 'format': expected 'json' or 'csv', got '{format}'");
        }

        var rows = await _runtime.Repository.GetMetricDataAsync(query, context.RequestAborted).ConfigureAwait(false);
        if (format == "csv")
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "text/csv; charset=utf-8";
            var text = new StringBuilder("rowid,timestamp,value,raw_anomaly_score,anomaly_score,display_value\n");
            foreach (var r in rows)
            {
                text.Append(CultureInfo.InvariantCulture, $"{r.Rowid},{Time(r.Timestamp)},{r.MetricValue:R},{r.RawAnomalyScore:R},{r.AnomalyScore:R},{r.DisplayValue}\n");
            }

            await context.Response.WriteAsync(text.ToString(), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var array = new JsonArray();
        foreach (var r in rows)
        {
            array.Add((JsonNode)new JsonObject
            {
                ["rowid"] = r.Rowid,
                ["timestamp"] = Time(r.Timestamp),
                ["value"] = r.MetricValue,
                ["rawAnomalyScore"] = r.RawAnomalyScore,
                ["anomalyScore"] = r.AnomalyScore,
                ["displayValue"] = r.DisplayValue,
            });
        }

        await JsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["uid"] = metric.Uid, ["name"] = metric.Name, ["data"] = array }).ConfigureAwait(false);
    }

    private async Task MonitorAsync(HttpContext context)
    {
        var spec = await ReadObjectAsync(context).ConfigureAwait(false);
        string uid = await _adapter.MonitorMetricAsync(spec, context.RequestAborted).ConfigureAwait(false);
        var metric = await _runtime.Repository.GetMetricAsync(uid, context.RequestAborted).ConfigureAwait(false);
        await JsonAsync(context, StatusCodes.Status201Created, MetricJson(metric, null)).ConfigureAwait(false);
    }

    private async Task UnmonitorAsync(HttpContext context)
    {
        var metric = await ResolveAsync(context).ConfigureAwait(false);
        await _adapter.UnmonitorMetricAsync(metric.Uid, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task DeleteMetricAsync(HttpContext context)
    {
        var metric = await ResolveAsync(context).ConfigureAwait(false);
        if (metric.Datasource != "custom" || metric.Name is null)
        {
            throw new BadRequestException($"metric {metric.Uid} is not a custom metric; only custom metrics are deleted through the API");
        }

        await _adapter.DeleteMetricByNameAsync(metric.Name, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task ExportAsync(HttpContext context)
    {
        var metric = await ResolveAsync(context).ConfigureAwait(false);
        var export = await _adapter.ExportModelAsync(metric.Uid, context.RequestAborted).ConfigureAwait(false);
        await JsonAsync(context, StatusCodes.Status200OK, export).ConfigureAwait(false);
    }

    private async Task ImportAsync(HttpContext context)
    {
        var export = await ReadObjectAsync(context).ConfigureAwait(false);
        string uid = await _adapter.ImportModelAsync(export, context.RequestAborted).ConfigureAwait(false);
        var metric = await _runtime.Repository.GetMetricAsync(uid, context.RequestAborted).ConfigureAwait(false);
        await JsonAsync(context, StatusCodes.Status201Created, MetricJson(metric, null)).ConfigureAwait(false);
    }

    private async Task PrometheusAsync(HttpContext context)
    {
        var text = new StringBuilder();
        var metrics = await _runtime.Repository.ListMetricsAsync(cancellationToken: context.RequestAborted).ConfigureAwait(false);
        Span<int> byStatus = stackalloc int[5];
        foreach (var m in metrics)
        {
            byStatus[StatusIndex(m.Status)]++;
        }

        text.Append("# HELP htmengine_metrics Metrics known to the engine, by status.\n# TYPE htmengine_metrics gauge\n");
        foreach (var status in (ReadOnlySpan<MetricStatus>)[MetricStatus.Unmonitored, MetricStatus.Active, MetricStatus.CreatePending, MetricStatus.PendingData, MetricStatus.Error])
        {
            text.Append(CultureInfo.InvariantCulture, $"htmengine_metrics{{status=\"{StatusName(status)}\"}} {byStatus[StatusIndex(status)]}\n");
        }

        var o = _runtime.Options;
        text.Append("# HELP htmengine_queue_ready_messages Messages waiting in an engine queue.\n# TYPE htmengine_queue_ready_messages gauge\n");
        await QueueDepthAsync(text, o.MetricDataQueue, context.RequestAborted).ConfigureAwait(false);
        await QueueDepthAsync(text, o.ResultsQueue, context.RequestAborted).ConfigureAwait(false);
        for (int shard = 0; shard < o.Shards; shard++)
        {
            await QueueDepthAsync(text, ModelShards.InputQueue(o.ModelInputQueuePrefix, shard), context.RequestAborted).ConfigureAwait(false);
        }

        ServiceCounters.Write(text, _services);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await context.Response.WriteAsync(text.ToString(), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Follows the results exchange: one JSON line per scored row (<c>{"uid","name","rowid","timestamp","value",
    /// "rawAnomaly","anomaly"}</c>) and per model command result (the message with <c>"dataType":"model-cmd-result"</c>),
    /// flushed as they come, until <c>count</c> lines were written or the client goes away. A private queue is bound
    /// to the exchange for the request and deleted after it.
    /// </summary>
    private async Task ResultsAsync(HttpContext context)
    {
        int remaining = context.Request.Query.TryGetValue("count", out var c) ? ParseCount(c.ToString()) : int.MaxValue;
        var bus = _runtime.Bus;
        string queue = "htmengine.web.results." + Guid.NewGuid().ToString("N");
        await bus.DeclareQueueAsync(queue, context.RequestAborted).ConfigureAwait(false);
        var received = Channel.CreateBounded<BusMessage>(new BoundedChannelOptions(64) { SingleReader = true });
        IBusSubscription? subscription = null;
        try
        {
            await bus.BindQueueAsync(queue, _runtime.Options.ResultsExchange, context.RequestAborted).ConfigureAwait(false);
            subscription = await bus.ConsumeAsync(
                queue,
                async (message, ct) =>
                {
                    await received.Writer.WriteAsync(message, ct).ConfigureAwait(false);
                    return ConsumeOutcome.Ack;
                },
                new ConsumerOptions(Prefetch: 64),
                context.RequestAborted).ConfigureAwait(false);
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/x-ndjson; charset=utf-8";
            await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            var lines = new List<string>();
            while (remaining > 0)
            {
                var message = await received.Reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
                lines.Clear();
                ResultLines(message, lines);
                for (int i = 0; i < lines.Count && remaining > 0; i++, remaining--)
                {
                    await context.Response.WriteAsync(lines[i] + "\n", context.RequestAborted).ConfigureAwait(false);
                }

                await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: normal end of a follow.
        }
        finally
        {
            if (subscription is not null)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
            }

            await bus.DeleteQueueAsync(queue, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void ResultLines(BusMessage message, List<string> lines)
    {
        using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
        var root = json.RootElement;
        if (message.Headers.TryGetValue(ResultsMessages.DataTypeHeader, out var type))
        {
            var command = JsonNode.Parse(root.GetRawText())!.AsObject();
            command["dataType"] = type;
            lines.Add(command.ToJsonString(s_indented));
            return;
        }

        var metric = root.GetProperty("metric");
        string? uid = metric.GetProperty("uid").GetString();
        string? name = metric.GetProperty("name").GetString();
        foreach (var row in root.GetProperty("results").EnumerateArray())
        {
            lines.Add(new JsonObject
            {
                ["uid"] = uid,
                ["name"] = name,
                ["rowid"] = row.GetProperty("rowid").GetInt64(),
                ["timestamp"] = Time(DateTime.UnixEpoch.AddSeconds(row.GetProperty("ts").GetDouble())),
                ["value"] = row.GetProperty("value").GetDouble(),
                ["rawAnomaly"] = row.GetProperty("rawAnomaly").GetDouble(),
                ["anomaly"] = row.GetProperty("anomaly").GetDouble(),
            }.ToJsonString(s_indented));
        }
    }

    private static int ParseCount(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int count) && count > 0
            ? count
            : throw new BadRequestException($"query field 'count': expected a whole number above 0, got '{text}'");

    private async Task QueueDepthAsync(StringBuilder text, string queue, CancellationToken cancellationToken)
    {
        long ready = await _runtime.Bus.GetReadyCountAsync(queue, cancellationToken).ConfigureAwait(false);
        text.Append(CultureInfo.InvariantCulture, $"htmengine_queue_ready_messages{{queue=\"{queue}\"}} {ready}\n");
    }

    /// <summary>The metric named by the route's <c>id</c>: a uid first, then a custom metric's name.</summary>
    private async Task<MetricRow> ResolveAsync(HttpContext context)
    {
        string id = context.Request.RouteValues["id"] as string ?? string.Empty;
        try
        {
            return await _runtime.Repository.GetMetricAsync(id, context.RequestAborted).ConfigureAwait(false);
        }
        catch (MetricNotFoundException)
        {
            try
            {
                return await _runtime.Repository.GetCustomMetricByNameAsync(id, context.RequestAborted).ConfigureAwait(false);
            }
            catch (MetricNotFoundException e)
            {
                throw new ObjectNotFoundException($"no metric has the uid or name '{id}'", e);
            }
        }
    }

    private async Task<MetricDataRow?> NewestScoredRowAsync(MetricRow metric, CancellationToken cancellationToken)
    {
        if (metric.Status == MetricStatus.Unmonitored)
        {
            return null;
        }

        var rows = await _runtime.Repository.GetMetricDataAsync(
            new MetricDataQuery { Uid = metric.Uid, MinScore = 0, Sort = MetricDataSort.RowidDescending, Limit = 1 },
            cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private static JsonObject MetricJson(MetricRow m, MetricDataRow? newest)
    {
        JsonNode? parameters = null;
        if (m.Parameters is { Length: > 0 } p)
        {
            try
            {
                parameters = JsonNode.Parse(p);
            }
            catch (JsonException)
            {
                parameters = p; // stored by another writer as plain text: show it as it is
            }
        }

        return new JsonObject
        {
            ["uid"] = m.Uid,
            ["name"] = m.Name,
            ["datasource"] = m.Datasource,
            ["status"] = StatusName(m.Status),
            ["message"] = m.Message,
            ["lastTimestamp"] = m.LastTimestamp is { } t ? Time(t) : null,
            ["lastRowid"] = m.LastRowid,
            ["parameters"] = parameters,
            ["currentAnomaly"] = newest?.AnomalyScore,
            ["currentAnomalyRowid"] = newest?.Rowid,
        };
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpContext context)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"the body is not JSON: {e.Message}", e);
        }

        return node as JsonObject ?? throw new BadRequestException("the body must be a JSON object");
    }

    private static MetricStatus ParseStatus(string text) => text.ToUpperInvariant() switch
    {
        "UNMONITORED" => MetricStatus.Unmonitored,
        "ACTIVE" => MetricStatus.Active,
        "CREATE_PENDING" => MetricStatus.CreatePending,
        "PENDING_DATA" => MetricStatus.PendingData,
        "ERROR" => MetricStatus.Error,
        _ => throw new BadRequestException($"query field 'status': expected UNMONITORED, ACTIVE, CREATE_PENDING, PENDING_DATA or ERROR, got '{text}'"),
    };

    /// <summary>The status as the original wrote it (<c>ACTIVE</c>, <c>CREATE_PENDING</c>, …).</summary>
    public static string StatusName(MetricStatus status) => status switch
    {
        MetricStatus.Unmonitored => "UNMONITORED",
        MetricStatus.Active => "ACTIVE",
        MetricStatus.CreatePending => "CREATE_PENDING",
        MetricStatus.PendingData => "PENDING_DATA",
        MetricStatus.Error => "ERROR",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };

    private static int StatusIndex(MetricStatus status) => status switch
    {
        MetricStatus.Unmonitored => 0,
        MetricStatus.Active => 1,
        MetricStatus.CreatePending => 2,
        MetricStatus.PendingData => 3,
        _ => 4,
    };

    private static DateTime ParseTime(string field, string text)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long epoch))
        {
            return DateTime.UnixEpoch.AddSeconds(epoch);
        }

        if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
        {
            return time;
        }

        throw new BadRequestException($"query field '{field}': expected epoch seconds or an ISO 8601 time such as 2024-03-01T12:00:00Z, got '{text}'");
    }

    private static double ParseScore(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double score) && score is >= 0 and <= 1
            ? score
            : throw new BadRequestException($"query field 'minScore': expected a number from 0 to 1, got '{text}'");

    private static int ParseLimit(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int limit) && limit > 0
            ? limit
            : throw new BadRequestException($"query field 'limit': expected a whole number above 0, got '{text}'");

    private static string Time(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static Task ErrorAsync(HttpContext context, int status, string message) =>
        JsonAsync(context, status, new JsonObject { ["error"] = message });

    private static async Task JsonAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(body.ToJsonString(s_indented), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A request the API cannot take: the message names the field and what was expected.</summary>
    private sealed class BadRequestException(string message, Exception? inner = null) : Exception(message, inner);

    private static partial class WebLog
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "HTTP {Method} {Path} failed")]
        public static partial void Unexpected(ILogger logger, string method, PathString path, Exception exception);
    }
}
