using System.Net;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Server.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Server.Web;

/// <summary>
/// The <c>web</c> service: the JSON API of <see cref="WebApi"/> on Kestrel at <c>[web] listen</c>. It refuses to start on
/// a non-loopback address without <c>[web] token</c>, so an engine is never writable from the network by accident.
/// </summary>
public sealed class WebService : IEngineService, IAsyncDisposable
{
    private readonly WebOptions _options;
    private readonly WebApi _api;
    private WebApplication? _app;

    /// <summary>Creates the service; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options"><c>[web]</c>.</param>
    /// <param name="runtime">The engine's repository and bus.</param>
    /// <param name="adapter">The datasource adapter the mutating calls go through.</param>
    /// <exception cref="ConfigurationException">A non-loopback <c>listen</c> without a token.</exception>
    public WebService(WebOptions options, EngineRuntime runtime, DatasourceAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runtime);
        if (options.Token.Length == 0 && !IsLoopback(options.Listen.Address))
        {
            throw new ConfigurationException(
                $"application.conf [web] listen = {options.Listen} is not a loopback address: set [web] token so that calls that change the engine need it, or listen on 127.0.0.1");
        }

        _options = options;
        _api = new WebApi(runtime, adapter, options.Token, runtime.LoggerFactory.CreateLogger("HtmEngine.Web"));
    }

    /// <inheritdoc />
    public string Name => "web";

    /// <summary>Shows the counters of <paramref name="services"/> (the services of this process) on <c>/metrics</c>.</summary>
    /// <param name="services">The services.</param>
    public void Observe(IReadOnlyList<IEngineService> services) => _api.Observe(services);

    /// <summary>The address Kestrel bound (with the real port when <c>listen</c> named port 0); null before start.</summary>
    public Uri? BaseAddress { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders(); // the API logs its own errors through the engine's logger
        var address = _options.Listen.Address;
        var port = _options.Listen.Port;
        builder.WebHost.ConfigureKestrel(k =>
        {
            if (IPAddress.TryParse(address, out var ip))
            {
                k.Listen(ip, port);
            }
            else
            {
                k.ListenLocalhost(port);
            }
        });
        var app = builder.Build();

        // The dashboard: static files next to the executable (copied there by the build), index.html at "/".
        var pages = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (Directory.Exists(pages))
        {
            var files = new PhysicalFileProvider(pages);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }

        _api.Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        BaseAddress = bound is null ? null : new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static bool IsLoopback(string address) =>
        address == "localhost" || (IPAddress.TryParse(address, out var ip) && IPAddress.IsLoopback(ip));
}
