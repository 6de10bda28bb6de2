using System.Text;
using System.Text.Json.Nodes;

namespace HtmEngine.Server.Commands.Client;

/// <summary><c>htmengine metrics</c>: the engine's metrics, ranked by current anomaly or by name.</summary>
public sealed class MetricsCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "metrics";

    /// <inheritdoc/>
    public override string Summary => "List a running engine's metrics (by status, ranked by anomaly).";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine metrics [--status STATUS] [--sort anomaly|name] [--json]

        Lists the metrics of a running engine: name, status, the newest anomaly score, rows stored and
        uid, most anomalous first by default.

        Options:
          --status STATUS   Only UNMONITORED, ACTIVE, CREATE_PENDING, PENDING_DATA or ERROR metrics.
          --sort KEY        anomaly (default) or name.
          --json            Print the API's JSON instead of a table.
        """;

    /// <inheritdoc/>
    protected override IReadOnlyList<string> ValueOptions => ["--status", "--sort"];

    /// <inheritdoc/>
    protected override IReadOnlyList<string> Flags => ["--json"];

    /// <inheritdoc/>
    protected override (int Min, int Max) Positionals => (0, 0);

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        var path = new StringBuilder("/api/metrics?sort=").Append(Uri.EscapeDataString(options.Value("--sort") ?? "anomaly"));
        if (options.Value("--status") is { } status)
        {
            path.Append("&status=").Append(Uri.EscapeDataString(status));
        }

        var answer = await client.GetJsonAsync(path.ToString()).ConfigureAwait(false);
        if (options.Flag("--json"))
        {
            WriteJson(stdout, answer);
            return 0;
        }

        var rows = new List<string[]>();
        foreach (var m in answer["metrics"]!.AsArray())
        {
            rows.Add([Cell(m!["name"]), Cell(m["status"]), Cell(m["currentAnomaly"]), Cell(m["lastRowid"]), Cell(m["uid"])]);
        }

        WriteTable(stdout, ["NAME", "STATUS", "ANOMALY", "ROWS", "UID"], rows);
        return 0;
    }
}

/// <summary><c>htmengine monitor NAME</c>: start a model for a metric.</summary>
public sealed class MonitorCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "monitor";

    /// <inheritdoc/>
    public override string Summary => "Monitor a metric of a running engine (create its model).";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine monitor NAME [--min X --max Y] [--min-resolution R] [--json]

        Creates the model of the custom metric NAME (creating the metric when it is new). Without
        --min/--max the engine waits for 288 samples and infers them (PENDING_DATA).

        Options:
          --min X, --max Y     The value range of the model's encoder (give both or neither).
          --min-resolution R   Smallest resolution of the value encoder.
          --json               Print the API's JSON instead of one line.
        """;

    /// <inheritdoc/>
    protected override IReadOnlyList<string> ValueOptions => ["--min", "--max", "--min-resolution"];

    /// <inheritdoc/>
    protected override IReadOnlyList<string> Flags => ["--json"];

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        var spec = new JsonObject { ["datasource"] = "custom", ["metricSpec"] = new JsonObject { ["metric"] = options.Positionals[0] } };
        var parameters = new JsonObject();
        double? min = Number(options, "--min");
        double? max = Number(options, "--max");
        if (min.HasValue != max.HasValue)
        {
            throw new UsageException("give both --min and --max, or neither");
        }

        if (min is { } lo && max is { } hi)
        {
            parameters["min"] = lo;
            parameters["max"] = hi;
        }

        if (Number(options, "--min-resolution") is { } resolution)
        {
            parameters["minResolution"] = resolution;
        }

        if (parameters.Count > 0)
        {
            spec["modelParams"] = parameters;
        }

        var metric = await client.SendJsonAsync(HttpMethod.Post, "/api/models", spec).ConfigureAwait(false);
        if (options.Flag("--json"))
        {
            WriteJson(stdout, metric);
        }
        else
        {
            stdout.WriteLine($"monitoring {Cell(metric["name"])} ({Cell(metric["uid"])}): {Cell(metric["status"])}");
        }

        return 0;
    }
}

/// <summary><c>htmengine unmonitor NAME</c>.</summary>
public sealed class UnmonitorCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "unmonitor";

    /// <inheritdoc/>
    public override string Summary => "Stop monitoring a metric (its rows stay; model and scores go).";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine unmonitor NAME|UID

        Deletes the metric's model and clears its scores; the metric and its rows stay (UNMONITORED).
        """;

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        await client.SendJsonAsync(HttpMethod.Delete, "/api/models/" + Segment(options.Positionals[0]), null).ConfigureAwait(false);
        stdout.WriteLine($"unmonitored {options.Positionals[0]}");
        return 0;
    }
}

/// <summary><c>htmengine delete NAME</c>.</summary>
public sealed class DeleteCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "delete";

    /// <inheritdoc/>
    public override string Summary => "Delete a metric with its rows and its model.";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine delete NAME|UID

        Deletes the custom metric, every row of it and its model. Samples that arrive for the name
        later create it again, unmonitored.
        """;

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        await client.SendJsonAsync(HttpMethod.Delete, "/api/metrics/" + Segment(options.Positionals[0]), null).ConfigureAwait(false);
        stdout.WriteLine($"deleted {options.Positionals[0]}");
        return 0;
    }
}

/// <summary><c>htmengine data NAME</c>: a metric's rows with their scores.</summary>
public sealed class DataCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "data";

    /// <inheritdoc/>
    public override string Summary => "Print a metric's rows and scores (table, CSV or JSON).";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine data NAME|UID [--from T] [--to T] [--limit N] [--min-score S] [--format table|csv|json]

        Prints the metric's rows in rowid order: timestamp, value, raw anomaly score, anomaly score.

        Options:
          --from T, --to T   Time range, inclusive: epoch seconds or ISO 8601 (2024-03-01T12:00:00Z).
          --limit N          At most N rows.
          --min-score S      Only rows whose anomaly score is at least S (0 = scored rows only).
          --format F         table (default), csv or json.
        """;

    /// <inheritdoc/>
    protected override IReadOnlyList<string> ValueOptions => ["--from", "--to", "--limit", "--min-score", "--format"];

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        string format = options.Value("--format") ?? "table";
        if (format is not ("table" or "csv" or "json"))
        {
            throw new UsageException($"option '--format' expects table, csv or json, got '{format}'");
        }

        var path = new StringBuilder("/api/metrics/").Append(Segment(options.Positionals[0])).Append("/data?format=").Append(format == "csv" ? "csv" : "json");
        foreach (var (option, field) in (ReadOnlySpan<(string, string)>)[("--from", "from"), ("--to", "to"), ("--limit", "limit"), ("--min-score", "minScore")])
        {
            if (options.Value(option) is { } value)
            {
                path.Append('&').Append(field).Append('=').Append(Uri.EscapeDataString(value));
            }
        }

        if (format == "csv")
        {
            stdout.Write(await client.GetTextAsync(path.ToString()).ConfigureAwait(false));
            return 0;
        }

        var answer = await client.GetJsonAsync(path.ToString()).ConfigureAwait(false);
        if (format == "json")
        {
            WriteJson(stdout, answer);
            return 0;
        }

        var rows = new List<string[]>();
        foreach (var r in answer["data"]!.AsArray())
        {
            rows.Add([Cell(r!["rowid"]), Cell(r["timestamp"]), Cell(r["value"]), Cell(r["rawAnomalyScore"]), Cell(r["anomalyScore"])]);
        }

        WriteTable(stdout, ["ROWID", "TIMESTAMP", "VALUE", "RAW", "ANOMALY"], rows);
        return 0;
    }
}

/// <summary><c>htmengine export NAME</c>.</summary>
public sealed class ExportCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "export";

    /// <inheritdoc/>
    public override string Summary => "Export a monitored metric's model spec and recent data as JSON.";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine export NAME|UID [--out FILE]

        Writes the metric's model spec and the rows of its last 14 days as JSON, the input of
        'htmengine import'.

        Options:
          --out FILE   Write to FILE instead of standard output.
        """;

    /// <inheritdoc/>
    protected override IReadOnlyList<string> ValueOptions => ["--out"];

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        var export = await client.GetJsonAsync("/api/models/" + Segment(options.Positionals[0]) + "/export").ConfigureAwait(false);
        if (options.Value("--out") is { } file)
        {
            await File.WriteAllTextAsync(file, export.ToJsonString() + "\n").ConfigureAwait(false);
            stdout.WriteLine($"exported {options.Positionals[0]} to {file}");
        }
        else
        {
            WriteJson(stdout, export);
        }

        return 0;
    }
}

/// <summary><c>htmengine import FILE</c>.</summary>
public sealed class ImportCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "import";

    /// <inheritdoc/>
    public override string Summary => "Import a metric exported by 'htmengine export'.";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine import FILE|-

        Creates the metric and its model from an export (FILE, or - for standard input) and stores its
        data, which the model then learns from.
        """;

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        string source = options.Positionals[0];
        string text = source == "-" ? await Console.In.ReadToEndAsync().ConfigureAwait(false) : await File.ReadAllTextAsync(source).ConfigureAwait(false);
        JsonNode? export;
        try
        {
            export = JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new EngineCallException($"{source} is not JSON: {e.Message}", e);
        }

        var metric = await client.SendJsonAsync(HttpMethod.Post, "/api/models/import", export).ConfigureAwait(false);
        stdout.WriteLine($"imported {Cell(metric["name"])} ({Cell(metric["uid"])}): {Cell(metric["status"])}");
        return 0;
    }
}

/// <summary><c>htmengine results</c>: follow the results exchange.</summary>
public sealed class ResultsCommand : ClientCommand
{
    /// <inheritdoc/>
    public override string Name => "results";

    /// <inheritdoc/>
    public override string Summary => "Follow the results exchange: one JSON line per scored row or command result.";

    /// <inheritdoc/>
    protected override string Usage => """
        Usage: htmengine results [--count N]

        Follows the engine's results exchange and prints one JSON line per scored row
        ({"uid","name","rowid","timestamp","value","rawAnomaly","anomaly"}) and per model command
        result (with "dataType":"model-cmd-result"), until N lines or Ctrl-C.

        Options:
          --count N   Stop after N lines (default: follow until interrupted).
        """;

    /// <inheritdoc/>
    protected override IReadOnlyList<string> ValueOptions => ["--count"];

    /// <inheritdoc/>
    protected override (int Min, int Max) Positionals => (0, 0);

    /// <inheritdoc/>
    protected override async Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout)
    {
        string path = "/api/results";
        if (options.Value("--count") is { } count)
        {
            path += "?count=" + Uri.EscapeDataString(count);
        }

        using var stop = new CancellationTokenSource();
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            stop.Cancel();
        }

        Console.CancelKeyPress += OnCancel;
        try
        {
            await client.StreamLinesAsync(path, line => stdout.WriteLine(line), stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl-C: a normal end.
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }

        return 0;
    }
}
