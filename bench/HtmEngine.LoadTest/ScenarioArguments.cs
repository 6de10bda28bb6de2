using System.Globalization;

namespace HtmEngine.LoadTest;

/// <summary>
/// <c>--name value</c> options and <c>--flag</c> switches after the scenario name. A scenario reads what it knows;
/// <see cref="ThrowIfUnknown"/> then rejects anything left, so typos do not silently fall back to defaults.
/// </summary>
public sealed class ScenarioArguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);

    private ScenarioArguments()
    {
    }

    /// <summary>Parses the options.</summary>
    /// <param name="args">Arguments after the scenario name.</param>
    /// <returns>The options.</returns>
    public static ScenarioArguments Parse(ReadOnlySpan<string> args)
    {
        var result = new ScenarioArguments();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new ArgumentException($"unexpected argument '{arg}' (options look like --name value)");
            }

            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

            if (!result._values.TryAdd(name, value))
            {
                throw new ArgumentException($"option --{name} given twice");
            }
        }

        return result;
    }

    /// <summary>An integer option within a range.</summary>
    /// <param name="name">The option name without dashes.</param>
    /// <param name="defaultValue">The value when absent.</param>
    /// <param name="min">Smallest allowed.</param>
    /// <param name="max">Largest allowed.</param>
    /// <returns>The value.</returns>
    public int GetInt(string name, int defaultValue, int min, int max)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out string? text))
        {
            return defaultValue;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new ArgumentException($"--{name} must be an integer from {min} to {max}, got '{text}'");
        }

        return value;
    }

    /// <summary>A switch (present or not; no value).</summary>
    /// <param name="name">The option name without dashes.</param>
    /// <returns>True when given.</returns>
    public bool GetFlag(string name)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out string? text))
        {
            return false;
        }

        return text is null ? true : throw new ArgumentException($"--{name} takes no value, got '{text}'");
    }

    /// <summary>A text option.</summary>
    /// <param name="name">The option name without dashes.</param>
    /// <param name="defaultValue">The value when absent.</param>
    /// <returns>The value.</returns>
    public string GetString(string name, string defaultValue)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out string? text))
        {
            return defaultValue;
        }

        return text ?? throw new ArgumentException($"--{name} needs a value");
    }

    /// <summary>Throws for options the scenario did not read.</summary>
    public void ThrowIfUnknown()
    {
        foreach (string name in _values.Keys)
        {
            if (!_read.Contains(name))
            {
                throw new ArgumentException($"unknown option --{name}");
            }
        }
    }
}
