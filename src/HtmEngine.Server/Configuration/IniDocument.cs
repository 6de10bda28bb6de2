namespace HtmEngine.Server.Configuration;

/// <summary>One <c>key = value</c> line of an INI file, with where it came from.</summary>
/// <param name="Key">The option name, lower-cased as Python's ConfigParser does.</param>
/// <param name="Value">The value with surrounding blanks removed.</param>
/// <param name="Path">The file the value was read from.</param>
/// <param name="Line">The 1-based line number in <paramref name="Path"/>.</param>
public sealed record IniEntry(string Key, string Value, string Path, int Line);

/// <summary>One <c>[section]</c> of an INI file and its entries in file order.</summary>
/// <param name="Name">The section name as written.</param>
/// <param name="Line">The 1-based line of the header.</param>
/// <param name="Entries">The options of the section, by lower-cased key.</param>
public sealed record IniSection(string Name, int Line, IReadOnlyDictionary<string, IniEntry> Entries);

/// <summary>A parsed INI file: its sections in file order.</summary>
/// <param name="Path">The file that was parsed.</param>
/// <param name="Sections">The sections, in the order they first appear.</param>
public sealed record IniDocument(string Path, IReadOnlyList<IniSection> Sections)
{
    /// <summary>Finds a section by name (case-sensitive, as ConfigParser sections are).</summary>
    public IniSection? Find(string section)
    {
        foreach (var s in Sections)
        {
            if (s.Name == section)
            {
                return s;
            }
        }

        return null;
    }
}
