namespace HtmEngine.Runtime.Hosting;

/// <summary>
/// A long-running part of the engine (listener, storer, model runners, anomaly service, web).
/// The host starts services in list order and stops them in reverse order.
/// </summary>
public interface IEngineService
{
    /// <summary>The name used by <c>--services</c> and in logs.</summary>
    string Name { get; }

    /// <summary>Starts the service; returns once it is accepting work.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops the service, finishing or handing back in-flight work; <paramref name="cancellationToken"/> ends a stop that takes too long.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}
