namespace HtmEngine.Server.Configuration;

/// <summary>
/// Finds the configuration directory. The rule, first match wins:
/// <list type="number">
/// <item><c>--config DIR</c> on the command line;</item>
/// <item>the <c>APPLICATION_CONFIG_PATH</c> environment variable (the seed's mechanism);</item>
/// <item>a <c>conf/</c> directory holding <c>application.conf</c> in the executable's directory or
/// any parent of it (an installed copy, or the repository when run with <c>dotnet run</c>);</item>
/// <item><c>conf/</c> in the current directory.</item>
/// </list>
/// </summary>
public static class ConfigLocator
{
    /// <summary>The environment variable that names the configuration directory.</summary>
    public const string EnvironmentVariable = "APPLICATION_CONFIG_PATH";

    /// <summary>Returns the absolute configuration directory, or throws a one-line <see cref="ConfigurationException"/>.</summary>
    public static string Locate(string? explicitDirectory, Func<string, string?> getEnvironment, string executableDirectory, string currentDirectory)
    {
        ArgumentNullException.ThrowIfNull(getEnvironment);
        if (!string.IsNullOrEmpty(explicitDirectory))
        {
            return RequireDirectory(explicitDirectory, "--config");
        }

        if (getEnvironment(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return RequireDirectory(fromEnvironment, EnvironmentVariable);
        }

        for (var dir = new DirectoryInfo(executableDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "conf");
            if (File.Exists(Path.Combine(candidate, "application.conf")))
            {
                return candidate;
            }
        }

        var local = Path.GetFullPath(Path.Combine(currentDirectory, "conf"));
        if (Directory.Exists(local))
        {
            return local;
        }

        throw ConfigurationException.At(local, null, null, null,
            $"no configuration directory found; expected --config DIR, {EnvironmentVariable}, a conf/ next to the executable or ./conf");
    }

    private static string RequireDirectory(string path, string origin)
    {
        var full = Path.GetFullPath(path);
        return Directory.Exists(full)
            ? full
            : throw ConfigurationException.At(full, null, null, null, $"directory not found (from {origin}); expected a directory holding application.conf");
    }
}
