using HtmEngine.Server.Configuration;

namespace HtmEngine.Server.Commands;

/// <summary><c>htmengine config check</c>: validate the configuration and print the effective values.</summary>
public sealed class ConfigCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "config";

    /// <inheritdoc/>
    public string Summary => "Check the configuration and print the effective values (config check).";

    /// <inheritdoc/>
    public string Help => """
        Usage: htmengine config check [--config DIR]

        Finds the configuration directory, loads application.conf, model-checkpoint.conf,
        model-swapper.conf and rabbitmq.conf with their overrides/ files and
        _NTA_UTILS_CONFIG__FILE__SECTION__OPTION environment overrides, validates every value
        and prints the effective configuration, one option per line with where it came from.
        Passwords are masked. On the first problem it prints one line naming the file, line,
        section and key, and exits 1.

        Options:
          --config DIR   Configuration directory (default: $APPLICATION_CONFIG_PATH, else a conf/
                         next to the executable or in a parent of it, else ./conf).
          -h, --help     Show this text.

        """;

    /// <inheritdoc/>
    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var options = OptionParser.Parse("config", args, ["--config"], [], stderr);
        if (options is null)
        {
            return 2;
        }

        if (options.HelpRequested)
        {
            stdout.Write(Help);
            return 0;
        }

        if (options.Positionals is not ["check"])
        {
            var what = options.Positionals.Count == 0 ? "a subcommand is missing" : $"unknown subcommand '{options.Positionals[0]}'";
            stderr.WriteLine($"htmengine config: {what}; expected 'check'. Run 'htmengine config --help'.");
            return 2;
        }

        ConfigValues values;
        EngineOptions engine;
        try
        {
            values = ConfigSource.LoadValues(options.Value("--config"));
            engine = EngineOptions.Bind(values);
        }
        catch (ConfigurationException e)
        {
            stderr.WriteLine($"htmengine config: {e.Message}");
            return 1;
        }

        stdout.WriteLine($"configuration: {values.Directory}");
        foreach (var v in values.All)
        {
            stdout.WriteLine($"{v.Key.File}.conf [{v.Key.Section}] {v.Key.Key} = {Display(v)}    ({v.Source})");
        }

        stdout.WriteLine($"repository: {(engine.UsesEmbeddedStorage ? "embedded SQLite" : "MySQL")}");
        stdout.WriteLine($"bus: {(engine.UsesInProcessBus ? "in-process" : "RabbitMQ")}");
        stdout.WriteLine("configuration OK");
        return 0;
    }

    private static string Display(ConfigValue v) => v.Key.Kind switch
    {
        ValueKind.Secret => v.Raw.Length == 0 ? "(empty)" : "********",
        ValueKind.Text when v.Raw.Length == 0 => "(empty)",
        ValueKind.Boolean => (bool)v.Value ? "true" : "false",
        _ => Convert.ToString(v.Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
    };
}
