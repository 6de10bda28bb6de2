using HtmEngine.Runtime.Hosting;
using System.Runtime.InteropServices;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;

namespace HtmEngine.Server.Commands;

/// <summary><c>htmengine serve</c>: load and check the configuration, then run the selected services until SIGTERM or Ctrl-C.</summary>
public sealed class ServeCommand : ICommand
{
    private readonly CancellationToken _externalStop;

    /// <summary>Creates the command as the executable uses it: it stops on SIGTERM or Ctrl-C.</summary>
    public ServeCommand()
    {
    }

    /// <summary>Creates the command with an extra stop signal (tests stop it without a process signal).</summary>
    internal ServeCommand(CancellationToken externalStop) => _externalStop = externalStop;

    /// <inheritdoc/>
    public string Name => "serve";

    /// <inheritdoc/>
    public string Summary => "Run the engine's services until SIGTERM or Ctrl-C.";

    /// <inheritdoc/>
    public string Help => $"""
        Usage: htmengine serve [--config DIR] [--services LIST]

        Loads and validates the configuration, prints which services it runs and which backends
        they use (embedded SQLite and in-process bus, or MySQL and RabbitMQ), then runs until
        SIGTERM or Ctrl-C and stops the services in reverse order.

        Options:
          --config DIR      Configuration directory (default: $APPLICATION_CONFIG_PATH, else a conf/
                            next to the executable or in a parent of it, else ./conf).
          --services LIST   Comma-separated services to run (default: all). Known services:
                            {string.Join(", ", ServiceCatalog.All.Select(s => s.Name))}.
          -h, --help        Show this text.

        Exit codes: 0 stopped cleanly, 1 bad configuration or a service failed, 2 usage error.

        """;

    /// <inheritdoc/>
    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var options = OptionParser.Parse(Name, args, ["--config", "--services"], [], stderr);
        if (options is null)
        {
            return 2;
        }

        if (options.HelpRequested)
        {
            stdout.Write(Help);
            return 0;
        }

        if (options.Positionals.Count > 0)
        {
            stderr.WriteLine($"htmengine serve: unexpected argument '{options.Positionals[0]}'. Run 'htmengine serve --help'.");
            return 2;
        }

        var selected = SelectServices(options.Value("--services"), stderr);
        if (selected is null)
        {
            return 2;
        }

        EngineOptions engine;
        try
        {
            engine = EngineOptions.Bind(ConfigSource.LoadValues(options.Value("--config")));
        }
        catch (ConfigurationException e)
        {
            stderr.WriteLine($"htmengine serve: configuration error: {e.Message}");
            return 1;
        }

        var services = new List<IEngineService>();
        stdout.WriteLine($"htmengine serve: configuration {engine.Directory}");
        stdout.WriteLine(engine.UsesEmbeddedStorage
            ? $"  repository: embedded SQLite {engine.Repository.SqlitePath}"
            : $"  repository: MySQL {engine.Repository.User}@{engine.Repository.Host}:{engine.Repository.Port}/{engine.Repository.Database}");
        stdout.WriteLine(engine.UsesInProcessBus
            ? "  bus: in-process"
            : $"  bus: RabbitMQ {engine.Bus.User}@{engine.Bus.Host}:{engine.Bus.Port} vhost {engine.Bus.VirtualHost}");
        foreach (var entry in selected)
        {
            if (entry.Create is { } create)
            {
                services.Add(create(engine));
                stdout.WriteLine($"  service {entry.Name}: {entry.Description}");
            }
            else
            {
                stdout.WriteLine($"  service {entry.Name}: {entry.Description} (arrives with issue #{entry.Issue}; not started)");
            }
        }

        return Host(services, stdout, stderr);
    }

    private int Host(IReadOnlyList<IEngineService> services, TextWriter stdout, TextWriter stderr)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_externalStop);
        void OnSignal(PosixSignalContext context)
        {
            // Cancel the default action (immediate exit) so services get a graceful stop.
            context.Cancel = true;
            stop.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        try
        {
            new ServiceHost(services, stdout, TimeSpan.FromSeconds(30)).RunAsync(stop.Token).GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"htmengine serve: {e.Message}");
            return 1;
        }
    }

    private static List<ServiceEntry>? SelectServices(string? list, TextWriter stderr)
    {
        if (list is null)
        {
            return [.. ServiceCatalog.All];
        }

        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var name in names)
        {
            if (ServiceCatalog.Find(name) is null)
            {
                stderr.WriteLine($"htmengine serve: unknown service '{name}'; expected some of {string.Join(", ", ServiceCatalog.All.Select(s => s.Name))}.");
                return null;
            }
        }

        if (names.Length == 0)
        {
            stderr.WriteLine("htmengine serve: --services needs at least one service name.");
            return null;
        }

        // Keep catalog order whatever order the list uses: start order matters.
        return [.. ServiceCatalog.All.Where(s => names.Contains(s.Name))];
    }
}
