using System.Net;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Hosting;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Listener;

/// <summary>
/// The <c>listener</c> service: a <see cref="GraphiteListener"/> on <c>[metric_listener] plaintext_port</c> whose
/// batches go to the metric data queue through a <see cref="BusMetricSampleSink"/>. Start declares the queue (durable)
/// and binds the port; stop closes the port and the connections, parses what was received and waits until every
/// accepted sample is confirmed on the queue (bounded by <see cref="GraphiteListenerOptions.ShutdownTimeout"/> or the
/// stop token).
/// </summary>
public sealed class ListenerService : IEngineService, IAsyncDisposable
{
    private readonly IMessageBus _bus;
    private readonly string _queueName;
    private readonly ILogger _logger;

    /// <summary>Creates the service (nothing is bound until <see cref="StartAsync"/>).</summary>
    /// <param name="options">The listener settings (validated here).</param>
    /// <param name="bus">The bus that carries the metric data queue.</param>
    /// <param name="queueName">The metric data queue (<c>[metric_listener] queue_name</c>).</param>
    /// <param name="loggerFactory">Creates the loggers of the listener, the sink and the service.</param>
    public ListenerService(GraphiteListenerOptions options, IMessageBus bus, string queueName, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentException.ThrowIfNullOrEmpty(queueName);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _bus = bus;
        _queueName = queueName;
        _logger = loggerFactory.CreateLogger<ListenerService>();
        Sink = new BusMetricSampleSink(bus, queueName, loggerFactory.CreateLogger<BusMetricSampleSink>());
        Listener = new GraphiteListener(options, Sink, logger: loggerFactory.CreateLogger<GraphiteListener>());
    }

    /// <inheritdoc />
    public string Name => "listener";

    /// <summary>The listener (its <see cref="GraphiteListener.Counters"/> feed the engine's stats).</summary>
    public GraphiteListener Listener { get; }

    /// <summary>The sink publishing to the queue.</summary>
    public BusMetricSampleSink Sink { get; }

    /// <summary>Lines accepted and rejected, bytes, connections.</summary>
    public GraphiteListenerCounters Counters => Listener.Counters;

    /// <summary>The bound TCP endpoint; null before start.</summary>
    public IPEndPoint? LocalEndPoint => Listener.LocalEndPoint;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _bus.DeclareQueueAsync(_queueName, cancellationToken).ConfigureAwait(false);
        await Listener.StartAsync(cancellationToken).ConfigureAwait(false);
        ListenerLog.Started(_logger, _queueName);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await Listener.StopAsync(cancellationToken).ConfigureAwait(false);
        ListenerLog.Stopped(_logger, _queueName, Sink.BatchesPublished, Sink.SamplesPublished);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Listener.DisposeAsync();
}
