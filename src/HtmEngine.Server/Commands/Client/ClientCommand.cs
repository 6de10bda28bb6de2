using System.Globalization;
using System.Text.Json.Nodes;
using HtmEngine.Server.Configuration;

namespace HtmEngine.Server.Commands.Client;

/// <summary>
/// A command that acts on a running engine through its HTTP API: parses its options plus the common <c>--url</c>,
/// <c>--token</c>, <c>--config</c> and <c>--json</c>, and turns an API error into one line and exit code 1.
/// </summary>
public abstract class ClientCommand : ICommand
{
    private const string CommonHelp = """

        Engine:
          --url URL       The engine's HTTP API (default: $HTMENGINE_URL, else http://[web] listen of the
                          configuration, else http://127.0.0.1:8080).
          --token TOKEN   Bearer token for calls that change the engine (default: $HTMENGINE_TOKEN, else
                          [web] token of the configuration).
          --config DIR    Configuration directory to read [web] from.
          -h, --help      Show this text.

        """;

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public abstract string Summary { get; }

    /// <inheritdoc/>
    public string Help => Usage + CommonHelp;

    /// <summary>The usage line, the description and the command's own options.</summary>
    protected abstract string Usage { get; }

    /// <summary>The command's options that take a value.</summary>
    protected virtual IReadOnlyList<string> ValueOptions => [];

    /// <summary>The command's flags.</summary>
    protected virtual IReadOnlyList<string> Flags => [];

    /// <summary>How many positional arguments the command takes (inclusive range).</summary>
    protected virtual (int Min, int Max) Positionals => (1, 1);

    /// <inheritdoc/>
    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var options = OptionParser.Parse(Name, args, [.. ValueOptions, "--url", "--token", "--config"], [.. Flags], stderr);
        if (options is null)
        {
            return 2;
        }

        if (options.HelpRequested)
        {
            stdout.Write(Help);
            return 0;
        }

        var (min, max) = Positionals;
        if (options.Positionals.Count < min || options.Positionals.Count > max)
        {
            stderr.WriteLine($"htmengine {Name}: {(options.Positionals.Count < min ? "missing argument" : $"unexpected argument '{options.Positionals[max]}'")}. Run 'htmengine {Name} --help'.");
            return 2;
        }

        try
        {
            using var client = EngineClient.Create(options.Value("--url"), options.Value("--token"), options.Value("--config"));
            return RunAsync(client, options, stdout).GetAwaiter().GetResult();
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"htmengine {Name}: {e.Message}. Run 'htmengine {Name} --help'.");
            return 2;
        }
        catch (Exception e) when (e is EngineCallException or ConfigurationException or IOException)
        {
            stderr.WriteLine($"htmengine {Name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Does the work; returns the exit code.</summary>
    protected abstract Task<int> RunAsync(EngineClient client, ParsedOptions options, TextWriter stdout);

    /// <summary>The path segment for a metric uid or name.</summary>
    protected static string Segment(string id) => Uri.EscapeDataString(id);

    /// <summary>A number option, or null when absent.</summary>
    protected static double? Number(ParsedOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Value(name) is not { } text)
        {
            return null;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value)
            ? value
            : throw new UsageException($"option '{name}' expects a number, got '{text}'");
    }

    /// <summary>Writes a JSON answer, indented.</summary>
    protected static void WriteJson(TextWriter stdout, JsonNode node)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(node);
        stdout.WriteLine(node.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Writes rows as a table with a header, columns padded to their widest cell.</summary>
    protected static void WriteTable(TextWriter stdout, string[] header, List<string[]> rows)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        var widths = new int[header.Length];
        for (int c = 0; c < header.Length; c++)
        {
            widths[c] = header[c].Length;
            foreach (var row in rows)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        WriteRow(stdout, header, widths);
        foreach (var row in rows)
        {
            WriteRow(stdout, row, widths);
        }
    }

    /// <summary>A JSON value as table text: empty for null, numbers invariant.</summary>
    protected static string Cell(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.TryGetValue(out double d) => d.ToString("0.######", CultureInfo.InvariantCulture),
        _ => node.ToString(),
    };

    private static void WriteRow(TextWriter stdout, string[] cells, int[] widths)
    {
        for (int c = 0; c < cells.Length; c++)
        {
            stdout.Write(c == cells.Length - 1 ? cells[c] : cells[c].PadRight(widths[c] + 2));
        }

        stdout.WriteLine();
    }

    /// <summary>A bad option value: reported as a usage error (exit code 2).</summary>
    protected sealed class UsageException(string message) : Exception(message);
}
