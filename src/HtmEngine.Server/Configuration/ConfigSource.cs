namespace HtmEngine.Server.Configuration;

/// <summary>Loads the configuration for this process: the locator's rule, the real environment.</summary>
public static class ConfigSource
{
    /// <summary>Finds the directory (see <see cref="ConfigLocator"/>) and loads it; throws <see cref="ConfigurationException"/>.</summary>
    public static ConfigValues LoadValues(string? explicitDirectory)
    {
        var environment = ConfigLoader.ProcessEnvironment();
        var directory = ConfigLocator.Locate(explicitDirectory, n => environment.TryGetValue(n, out var v) ? v : null,
            AppContext.BaseDirectory, Environment.CurrentDirectory);
        return ConfigLoader.LoadValues(directory, environment);
    }
}
