using HtmEngine.Runtime.Hosting;
namespace HtmEngine.Server.Hosting;

/// <summary>
/// Runs a list of <see cref="IEngineService"/>s until a stop is requested: start in order, wait,
/// stop in reverse order. If a start fails, the services already started are stopped before the
/// error is rethrown, so a half-started engine never lingers.
/// </summary>
public sealed class ServiceHost
{
    private readonly IReadOnlyList<IEngineService> _services;
    private readonly TextWriter _log;
    private readonly TimeSpan _stopTimeout;
    private readonly Func<IEngineService, CancellationToken, Task<bool>>? _drainBeforeStop;

    /// <summary>Creates a host for <paramref name="services"/>, reporting progress to <paramref name="log"/>.</summary>
    /// <param name="services">The services, in start order.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="stopTimeout">How long the stops (and, separately, the drains) may take.</param>
    /// <param name="drainBeforeStop">
    /// Called before each service is stopped; returns false when the work meant for it could not be finished in time
    /// (the in-process bus: what is still queued at exit is lost). Null for none.
    /// </param>
    public ServiceHost(IReadOnlyList<IEngineService> services, TextWriter log, TimeSpan stopTimeout, Func<IEngineService, CancellationToken, Task<bool>>? drainBeforeStop = null)
    {
        _drainBeforeStop = drainBeforeStop;
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(log);
        _services = services;
        _log = log;
        _stopTimeout = stopTimeout;
    }

    /// <summary>Starts every service, waits for <paramref name="stopRequested"/>, then stops them all.</summary>
    public async Task RunAsync(CancellationToken stopRequested)
    {
        var started = new List<IEngineService>(_services.Count);
        try
        {
            foreach (var service in _services)
            {
                await service.StartAsync(stopRequested).ConfigureAwait(false);
                started.Add(service);
                _log.WriteLine(service is Web.WebService { BaseAddress: { } url }
                    ? $"htmengine: started {service.Name}: dashboard and API at {url}"
                    : $"htmengine: started {service.Name}");
            }

            _log.WriteLine("htmengine: running; stop with Ctrl-C or SIGTERM");
            await _log.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, stopRequested).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopRequested.IsCancellationRequested)
        {
            // The normal way out: a signal asked us to stop.
        }
        finally
        {
            await StopAllAsync(started).ConfigureAwait(false);
        }
    }

    private async Task StopAllAsync(List<IEngineService> started)
    {
        using var timeout = new CancellationTokenSource(_stopTimeout);
        using var drainTimeout = new CancellationTokenSource(_stopTimeout);
        List<Exception>? failures = null;
        for (int i = started.Count - 1; i >= 0; i--)
        {
            try
            {
                if (_drainBeforeStop is { } drain && !await drain(started[i], drainTimeout.Token).ConfigureAwait(false))
                {
                    _log.WriteLine($"htmengine: work for {started[i].Name} was still queued after {_stopTimeout.TotalSeconds:F0} s; stopping anyway");
                }

                await started[i].StopAsync(timeout.Token).ConfigureAwait(false);
                _log.WriteLine($"htmengine: stopped {started[i].Name}");
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Keep stopping the rest; one stuck service must not keep the others running.
                (failures ??= []).Add(e);
                _log.WriteLine($"htmengine: stopping {started[i].Name} failed: {e.Message}");
            }
        }

        _log.WriteLine("htmengine: stopped");
        await _log.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        if (failures is not null)
        {
            throw new AggregateException("one or more services failed to stop", failures);
        }
    }
}
