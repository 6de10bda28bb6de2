namespace HtmEngine.Server.Configuration;

/// <summary>How a configuration value is checked and converted.</summary>
public enum ValueKind
{
    /// <summary>Any text, empty allowed.</summary>
    Text,

    /// <summary>Text that is masked when the configuration is printed (passwords).</summary>
    Secret,

    /// <summary>A whole number within the key's range; empty means the default.</summary>
    Integer,

    /// <summary><c>true</c>/<c>false</c> (also yes/no, on/off, 1/0 as ConfigParser); empty means the default.</summary>
    Boolean,

    /// <summary>A TCP port, 1 to 65535; empty means the default.</summary>
    Port,

    /// <summary>A path that may use <c>~</c>, <c>$VAR</c> and <c>${VAR}</c> and must expand to an absolute path.</summary>
    AbsolutePath,

    /// <summary>A path that may use environment variables; a relative one is taken from the application root (the parent of the configuration directory).</summary>
    DataPath,

    /// <summary>An IPv4 or IPv6 address literal.</summary>
    IpAddress,

    /// <summary>An <c>address:port</c> pair to listen on.</summary>
    Endpoint,
}

/// <summary>
/// One known option: which file and section hold it, how it is checked, its default and its meaning.
/// The whole schema is the single table <see cref="ConfigSchema.Keys"/>.
/// </summary>
/// <param name="File">The file name without extension, e.g. <c>application</c>.</param>
/// <param name="Section">The section name.</param>
/// <param name="Key">The option name, lower-case.</param>
/// <param name="Kind">How the value is checked and converted.</param>
/// <param name="Default">The value used when the file leaves the key out (or empty, for numbers and booleans).</param>
/// <param name="Meaning">One line for people: what the option does.</param>
public sealed record ConfigKey(string File, string Section, string Key, ValueKind Kind, string Default, string Meaning)
{
    /// <summary>Smallest accepted value of an <see cref="ValueKind.Integer"/> key.</summary>
    public long Min { get; init; }

    /// <summary>Largest accepted value of an <see cref="ValueKind.Integer"/> key.</summary>
    public long Max { get; init; } = int.MaxValue;
}
