namespace HtmEngine.Server.Configuration;

/// <summary>
/// A configuration problem found at start-up. <see cref="Exception.Message"/> is always one line
/// naming the file, the line (when there is one), the section, the key and what was expected, so an
/// operator can fix the file without reading code.
/// </summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>Creates the exception from an already formatted one-line message.</summary>
    public ConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception from an already formatted one-line message and its cause.</summary>
    public ConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no message; prefer the factory <see cref="At"/>.</summary>
    public ConfigurationException()
    {
    }

    /// <summary>
    /// Formats the one-line message: <c>path:line: [section] key: problem</c>. Parts that are
    /// unknown (no line for a missing file, no key for a section problem) are left out.
    /// </summary>
    public static ConfigurationException At(string path, int? line, string? section, string? key, string problem)
    {
        var where = line is { } l ? $"{path}:{l}" : path;
        var what = (section, key) switch
        {
            (not null, not null) => $" [{section}] {key}:",
            (not null, null) => $" [{section}]:",
            _ => string.Empty,
        };
        return new ConfigurationException($"{where}:{what} {Flatten(problem)}");
    }

    // Values quoted into the message come from files and the environment; a stray newline must not
    // break the one-line promise.
    private static string Flatten(string text) => text.ReplaceLineEndings(" ");
}
