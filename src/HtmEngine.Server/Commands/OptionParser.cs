namespace HtmEngine.Server.Commands;

/// <summary>
/// The parsed options of one command: <c>--name value</c> or <c>--name=value</c> for options that
/// take a value, <c>--name</c> alone for flags, and the remaining positional words.
/// </summary>
public sealed class ParsedOptions
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    /// <summary>Words that are not options, in order.</summary>
    public List<string> Positionals { get; } = [];

    /// <summary>True when <c>--help</c> or <c>-h</c> was given.</summary>
    public bool HelpRequested => _flags.Contains("--help");

    /// <summary>The value of a value-taking option, or null when absent.</summary>
    public string? Value(string name) => _values.TryGetValue(name, out var v) ? v : null;

    /// <summary>True when the flag was given.</summary>
    public bool Flag(string name) => _flags.Contains(name);

    internal void SetValue(string name, string value) => _values[name] = value;

    internal void SetFlag(string name) => _flags.Add(name);
}

/// <summary>
/// A deliberately small option parser: each command declares which <c>--options</c> take a value
/// and which are flags; anything else starting with <c>-</c> is a usage error naming it.
/// </summary>
public static class OptionParser
{
    /// <summary>
    /// Parses <paramref name="args"/>. Returns null and writes a one-line message naming the
    /// offending option to <paramref name="stderr"/> on a usage error.
    /// </summary>
    public static ParsedOptions? Parse(string command, IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions,
        IReadOnlyCollection<string> flags, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(valueOptions);
        ArgumentNullException.ThrowIfNull(flags);
        ArgumentNullException.ThrowIfNull(stderr);
        var result = new ParsedOptions();
        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                result.SetFlag("--help");
                continue;
            }

            if (arg == "--")
            {
                result.Positionals.AddRange(args.Skip(i + 1));
                break;
            }

            if (!arg.StartsWith('-') || arg == "-")
            {
                result.Positionals.Add(arg);
                continue;
            }

            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? arg[..eq] : arg;
            if (valueOptions.Contains(name))
            {
                if (eq > 0)
                {
                    result.SetValue(name, arg[(eq + 1)..]);
                }
                else if (i + 1 < args.Count)
                {
                    result.SetValue(name, args[++i]);
                }
                else
                {
                    stderr.WriteLine($"htmengine {command}: option '{name}' needs a value. Run 'htmengine {command} --help'.");
                    return null;
                }
            }
            else if (flags.Contains(name) && eq < 0)
            {
                result.SetFlag(name);
            }
            else
            {
                stderr.WriteLine($"htmengine {command}: unknown option '{name}'. Run 'htmengine {command} --help'.");
                return null;
            }
        }

        return result;
    }
}
