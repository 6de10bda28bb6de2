namespace HtmEngine.Server.Configuration;

/// <summary>One checked option value and where it came from.</summary>
/// <param name="Key">The schema row.</param>
/// <param name="Raw">The text as written (or the default).</param>
/// <param name="Value">The converted value: string, long, int (ports), bool or <see cref="ListenEndpoint"/>.</param>
/// <param name="Source">Where the value came from: <c>path:line</c>, an environment variable, or <c>default</c>.</param>
public sealed record ConfigValue(ConfigKey Key, string Raw, object Value, string Source);

/// <summary>The validated values of every schema key, looked up by file, section and key.</summary>
public sealed class ConfigValues
{
    private readonly Dictionary<(string File, string Section, string Key), ConfigValue> _values;

    /// <summary>Wraps already validated values; the loader is the only producer.</summary>
    internal ConfigValues(string directory, IEnumerable<ConfigValue> values)
    {
        Directory = directory;
        _values = values.ToDictionary(v => (v.Key.File, v.Key.Section, v.Key.Key));
    }

    /// <summary>The configuration directory the values were loaded from (absolute).</summary>
    public string Directory { get; }

    /// <summary>All values in schema order.</summary>
    public IEnumerable<ConfigValue> All => ConfigSchema.Keys.Select(k => _values[(k.File, k.Section, k.Key)]);

    /// <summary>The value of a text, secret, address or path option.</summary>
    public string Text(string file, string section, string key) => (string)Get(file, section, key).Value;

    /// <summary>The value of an integer option.</summary>
    public long Integer(string file, string section, string key) => (long)Get(file, section, key).Value;

    /// <summary>The value of a port option.</summary>
    public int Port(string file, string section, string key) => (int)Get(file, section, key).Value;

    /// <summary>The value of a boolean option.</summary>
    public bool Boolean(string file, string section, string key) => (bool)Get(file, section, key).Value;

    /// <summary>The value of an endpoint option.</summary>
    public ListenEndpoint Endpoint(string file, string section, string key) => (ListenEndpoint)Get(file, section, key).Value;

    /// <summary>Looks a value up; a key missing from <see cref="ConfigSchema"/> is a programming error.</summary>
    public ConfigValue Get(string file, string section, string key) =>
        _values.TryGetValue((file, section, key), out var v)
            ? v
            : throw new KeyNotFoundException($"[{section}] {key} of {file}.conf is not in ConfigSchema.Keys");
}
