namespace HtmEngine.Server.Configuration;

/// <summary>
/// Parses the INI dialect of the seed's configuration files (Python 2 ConfigParser): <c>[section]</c>
/// headers, <c>key = value</c> or <c>key: value</c> options, whole-line comments starting with
/// <c>#</c> or <c>;</c>, and inline comments that start with <c>;</c> after a blank. Keys are
/// case-insensitive (stored lower-cased); a key repeated in one section keeps the last value, as
/// ConfigParser does. Continuation lines are rejected rather than guessed at: no seed file uses them.
/// </summary>
public static class IniParser
{
    /// <summary>Reads and parses <paramref name="path"/>; a missing file is a <see cref="ConfigurationException"/>.</summary>
    public static IniDocument ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw ConfigurationException.At(path, null, null, null, "file not found; expected an INI file here");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ConfigurationException.At(path, null, null, null, $"cannot read the file ({e.Message})");
        }

        return Parse(text, path);
    }

    /// <summary>Parses INI <paramref name="text"/>; <paramref name="path"/> only names the source in errors.</summary>
    public static IniDocument Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(path);
        var sections = new List<IniSection>();
        Dictionary<string, IniEntry>? current = null;
        string? currentName = null;
        int lineNumber = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            var line = raw.TrimEnd();
            var trimmed = line.TrimStart();
            if (trimmed.IsEmpty || trimmed[0] is '#' or ';')
            {
                continue;
            }

            if (line.Length != trimmed.Length)
            {
                throw ConfigurationException.At(path, lineNumber, currentName, null,
                    "indented line; expected 'key = value' at the start of the line (continuation lines are not supported)");
            }

            if (trimmed[0] == '[')
            {
                int close = trimmed.IndexOf(']');
                if (close < 2)
                {
                    throw ConfigurationException.At(path, lineNumber, null, null, $"bad section header '{trimmed}'; expected '[name]'");
                }

                currentName = trimmed[1..close].Trim().ToString();
                var existing = sections.FindIndex(s => s.Name == currentName);
                if (existing >= 0)
                {
                    current = (Dictionary<string, IniEntry>)sections[existing].Entries;
                }
                else
                {
                    current = new Dictionary<string, IniEntry>(StringComparer.Ordinal);
                    sections.Add(new IniSection(currentName, lineNumber, current));
                }

                continue;
            }

            int separator = trimmed.IndexOfAny('=', ':');
            if (separator <= 0)
            {
                throw ConfigurationException.At(path, lineNumber, currentName, null, $"cannot parse '{trimmed}'; expected 'key = value'");
            }

            var key = trimmed[..separator].Trim().ToString().ToLowerInvariant();
            if (current is null)
            {
                throw ConfigurationException.At(path, lineNumber, null, key, "option before any [section] header; expected a section first");
            }

            var value = StripInlineComment(trimmed[(separator + 1)..]).Trim().ToString();
            current[key] = new IniEntry(key, value, path, lineNumber);
        }

        return new IniDocument(path, sections);
    }

    // ConfigParser (Python 2) treats ';' as an inline comment only when a blank precedes it, so
    // values such as "a;b" survive; '#' is never an inline comment there.
    private static ReadOnlySpan<char> StripInlineComment(ReadOnlySpan<char> value)
    {
        for (int i = 1; i < value.Length; i++)
        {
            if (value[i] == ';' && char.IsWhiteSpace(value[i - 1]))
            {
                return value[..i];
            }
        }

        return value;
    }
}
