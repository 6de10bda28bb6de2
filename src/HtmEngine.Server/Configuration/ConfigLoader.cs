using System.Collections;

namespace HtmEngine.Server.Configuration;

/// <summary>
/// Loads a configuration directory: reads each file of <see cref="ConfigSchema.Files"/>, overlays
/// <c>overrides/&lt;file&gt;</c> when present, applies <c>_NTA_UTILS_CONFIG__FILE__SECTION__OPTION</c>
/// environment overrides, rejects unknown sections and keys, fills defaults for keys a file leaves
/// out, and checks every value. The first problem stops loading with a one-line
/// <see cref="ConfigurationException"/>.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Prefix of the environment variables that override one option each (nta.utils convention).</summary>
    public const string OverridePrefix = "_NTA_UTILS_CONFIG__";

    /// <summary>Loads from the real process environment.</summary>
    public static EngineOptions Load(string directory) => Load(directory, ProcessEnvironment());

    /// <summary>Loads <paramref name="directory"/> with <paramref name="environment"/> as the environment (tests pass their own).</summary>
    public static EngineOptions Load(string directory, IReadOnlyDictionary<string, string> environment) =>
        EngineOptions.Bind(LoadValues(directory, environment));

    /// <summary>Loads and checks the raw values without binding them (used by <c>config check</c> to print sources).</summary>
    public static ConfigValues LoadValues(string directory, IReadOnlyDictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(environment);
        directory = Path.GetFullPath(directory);
        var applicationRoot = Path.GetDirectoryName(directory.TrimEnd(Path.DirectorySeparatorChar)) ?? directory;
        string? GetEnvironment(string name) => environment.TryGetValue(name, out var v) ? v : null;

        var raw = new Dictionary<(string File, string Section, string Key), (string Value, string Path, int? Line, string Source)>();
        foreach (var file in ConfigSchema.Files)
        {
            var path = Path.Combine(directory, file + ".conf");
            Collect(file, IniParser.ParseFile(path), raw);
            var overlay = Path.Combine(directory, "overrides", file + ".conf");
            if (File.Exists(overlay))
            {
                Collect(file, IniParser.ParseFile(overlay), raw);
            }
        }

        ApplyEnvironmentOverrides(directory, environment, raw);

        var values = new List<ConfigValue>(ConfigSchema.Keys.Count);
        foreach (var key in ConfigSchema.Keys)
        {
            var (text, path, line, source) = raw.TryGetValue((key.File, key.Section, key.Key), out var found)
                ? found
                : (key.Default, Path.Combine(directory, key.File + ".conf"), (int?)null, "default");
            if (!ValueParser.TryParse(key, text, applicationRoot, GetEnvironment, out var value, out var problem))
            {
                var origin = source.StartsWith(OverridePrefix, StringComparison.Ordinal) ? $" (from environment variable {source})" : string.Empty;
                throw ConfigurationException.At(path, line, key.Section, key.Key, problem + origin);
            }

            values.Add(new ConfigValue(key, text, value, source));
        }

        return new ConfigValues(directory, values);
    }

    private static void Collect(string file, IniDocument document,
        Dictionary<(string File, string Section, string Key), (string Value, string Path, int? Line, string Source)> raw)
    {
        foreach (var section in document.Sections)
        {
            if (!ConfigSchema.Keys.Any(k => k.File == file && k.Section == section.Name))
            {
                var known = string.Join(", ", ConfigSchema.Keys.Where(k => k.File == file).Select(k => k.Section).Distinct());
                throw ConfigurationException.At(document.Path, section.Line, section.Name, null, $"unknown section; expected one of {known}");
            }

            foreach (var entry in section.Entries.Values)
            {
                if (!ConfigSchema.Keys.Any(k => k.File == file && k.Section == section.Name && k.Key == entry.Key))
                {
                    var known = string.Join(", ", ConfigSchema.Keys.Where(k => k.File == file && k.Section == section.Name).Select(k => k.Key));
                    throw ConfigurationException.At(document.Path, entry.Line, section.Name, entry.Key, $"unknown key; expected one of {known}");
                }

                raw[(file, section.Name, entry.Key)] = (entry.Value, entry.Path, entry.Line, $"{entry.Path}:{entry.Line}");
            }
        }
    }

    // _NTA_UTILS_CONFIG__<FILE>__<SECTION>__<OPTION>: FILE is the file name upper-cased with '-' as
    // '_'. Variables for files we do not load (e.g. nta.utils' logging) are ignored; a variable
    // that names one of our files but an unknown option is an error, because a typo there would
    // otherwise silently test the wrong thing.
    private static void ApplyEnvironmentOverrides(string directory, IReadOnlyDictionary<string, string> environment,
        Dictionary<(string File, string Section, string Key), (string Value, string Path, int? Line, string Source)> raw)
    {
        foreach (var (name, value) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(OverridePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var parts = name[OverridePrefix.Length..].Split("__");
            var file = ConfigSchema.Files.FirstOrDefault(f => parts.Length > 0 && string.Equals(f.Replace('-', '_'), parts[0], StringComparison.OrdinalIgnoreCase));
            if (file is null)
            {
                continue;
            }

            var path = Path.Combine(directory, file + ".conf");
            if (parts.Length != 3)
            {
                throw ConfigurationException.At(path, null, null, null, $"environment variable {name} is malformed; expected {OverridePrefix}FILE__SECTION__OPTION");
            }

            var key = ConfigSchema.Keys.FirstOrDefault(k => k.File == file
                && string.Equals(k.Section, parts[1], StringComparison.OrdinalIgnoreCase)
                && string.Equals(k.Key, parts[2], StringComparison.OrdinalIgnoreCase));
            if (key is null)
            {
                throw ConfigurationException.At(path, null, parts[1].ToLowerInvariant(), parts[2].ToLowerInvariant(),
                    $"unknown option in environment variable {name}; expected an existing option of {file}.conf");
            }

            raw[(key.File, key.Section, key.Key)] = (value, path, null, name);
        }
    }

    /// <summary>A snapshot of the process environment as a dictionary.</summary>
    public static IReadOnlyDictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            result[(string)e.Key] = (string?)e.Value ?? string.Empty;
        }

        return result;
    }
}
