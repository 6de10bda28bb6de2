using System.Runtime.InteropServices;
using HtmEngine.Bus;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using Microsoft.Extensions.Logging;

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

        Loads and validates the configuration, opens the repository (embedded SQLite when
        [repository] host is empty, else MySQL/MariaDB) and the bus (in-process when rabbitmq.conf
        [connection] host is empty, else RabbitMQ), declares the queues and the results exchange,
        prints one line naming the backend, the queues and the services, then runs the services in
        this process until SIGTERM or Ctrl-C and stops them in reverse start order.

        Options:
          --config DIR      Configuration directory (default: $APPLICATION_CONFIG_PATH, else a conf/
                            next to the executable or in a parent of it, else ./conf).
          --services LIST   Comma-separated services to run (default: {string.Join(",", ServiceCatalog.Defaults.Select(s => s.Name))}).
                            Known services: {string.Join(", ", ServiceCatalog.All.Select(s => s.Name))}.
                            gc (the metric garbage collector) runs only when listed.
          -h, --help        Show this text.

        Exit codes: 0 stopped cleanly, 1 bad configuration, unreachable backend or a service
        failed, 2 usage error.

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

        stdout.WriteLine($"htmengine serve: configuration {engine.Directory}");
        stdout.WriteLine(engine.UsesEmbeddedStorage
            ? $"  repository: embedded SQLite {engine.Repository.SqlitePath}"
            : $"  repository: MySQL {engine.Repository.User}@{engine.Repository.Host}:{engine.Repository.Port}/{engine.Repository.Database}");
        stdout.WriteLine(engine.UsesInProcessBus
            ? "  bus: in-process"
            : $"  bus: RabbitMQ {engine.Bus.User}@{engine.Bus.Host}:{engine.Bus.Port} vhost {engine.Bus.VirtualHost}");
        foreach (var entry in selected)
        {
            stdout.WriteLine(entry.Create is null
                ? $"  service {entry.Name}: {entry.Description} (arrives with issue #{entry.Issue}; not started)"
                : $"  service {entry.Name}: {entry.Description}");
        }

        // The in-process bus joins only the services of this process: a split layout needs RabbitMQ.
        var missing = ServiceCatalog.Defaults.Where(d => d.Name != "web" && !selected.Contains(d)).Select(d => d.Name).ToList();
        if (engine.UsesInProcessBus && missing.Count > 0)
        {
            stderr.WriteLine($"htmengine serve: warning: the in-process bus connects only the services of this process, and {string.Join(", ", missing)} "
                + "will not run here; for one service per process set [connection] host in rabbitmq.conf (and a MySQL [repository] host)");
        }

        return Host(engine, selected, stdout, stderr);
    }

    private int Host(EngineOptions engine, List<ServiceEntry> selected, TextWriter stdout, TextWriter stderr)
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
        using var loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(engine.Profiling ? LogLevel.Debug : LogLevel.Information)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
                o.UseUtcTimestamp = true;
            }));
        try
        {
            return RunAsync(engine, selected, loggerFactory, stdout, stop.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while still opening the backends: nothing was started.
            stdout.WriteLine("htmengine: stopped");
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"htmengine serve: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunAsync(EngineOptions engine, List<ServiceEntry> selected, ILoggerFactory loggerFactory, TextWriter stdout, CancellationToken stop)
    {
        stop.ThrowIfCancellationRequested();
        var runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(engine), loggerFactory, stop).ConfigureAwait(false);
        await using (runtime.ConfigureAwait(false))
        {
            var services = new List<IEngineService>(selected.Count);
            var names = new List<string>(selected.Count);
            foreach (var entry in selected)
            {
                if (entry.Create is { } create)
                {
                    services.Add(create(engine, runtime));
                    names.Add(entry.Name);
                }
            }

            foreach (var service in services)
            {
                if (service is Web.WebService web)
                {
                    web.Observe(services);
                }
            }

            stdout.WriteLine($"htmengine serve: {runtime.Describe()}; services {(names.Count == 0 ? "(none)" : string.Join(", ", names))}");
            // The in-process bus dies with the process: before each consumer stops, let it finish what is queued for it.
            // Producers (the listener, the web API) stop first and are not waited for.
            Func<IEngineService, CancellationToken, Task<bool>>? drain = runtime.Bus is InProcessMessageBus inProcess
                ? (service, ct) => service is ListenerService or Web.WebService
                    ? Task.FromResult(true)
                    : inProcess.WaitUntilIdleAsync(TimeSpan.FromMilliseconds(200), ct)
                : null;
            await new ServiceHost(services, stdout, TimeSpan.FromSeconds(30), drain).RunAsync(stop).ConfigureAwait(false);
            return 0;
        }
    }

    private static List<ServiceEntry>? SelectServices(string? list, TextWriter stderr)
    {
        if (list is null)
        {
            return [.. ServiceCatalog.Defaults];
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
