using System.Globalization;
using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Runtime.Hosting;

/// <summary>What the engine's shared resources are: the repository, the broker (none = in-process bus) and the queues.</summary>
/// <param name="Storage">The repository; an empty host selects the embedded SQLite file.</param>
/// <param name="Broker">RabbitMQ, or null for the in-process bus.</param>
/// <param name="MetricDataQueue"><c>[metric_listener] queue_name</c>: listener → storer.</param>
/// <param name="ResultsQueue"><c>[interface_bus] results_queue</c>: shard runners → anomaly service.</param>
/// <param name="ResultsExchange"><c>[metric_streamer] results_exchange_name</c>: anomaly service → subscribers.</param>
/// <param name="ModelInputQueuePrefix"><c>[interface_bus] model_input_queue_prefix</c>: storer/adapter → shard runners.</param>
/// <param name="Shards">Model shards whose input queues are declared at open (0 = declared by the model runners).</param>
public sealed record EngineRuntimeOptions(
    StorageOptions Storage,
    RabbitMqBusOptions? Broker,
    string MetricDataQueue,
    string ResultsQueue,
    string ResultsExchange,
    string ModelInputQueuePrefix,
    int Shards = 0)
{
    /// <summary>True when the bus is the in-process one.</summary>
    public bool UsesInProcessBus => Broker is null;
}

/// <summary>
/// The composition root's shared half: opens the repository (SQLite when the host is empty, else MySQL) and the bus
/// (in-process when there is no broker, else RabbitMQ), declares the queues and the results exchange, and hands both
/// to the services. Disposing closes the bus, then the repository.
/// </summary>
public sealed class EngineRuntime : IAsyncDisposable
{
    private int _disposed;

    private EngineRuntime(EngineRuntimeOptions options, IMetricRepository repository, IMessageBus bus, ILoggerFactory loggerFactory)
    {
        Options = options;
        Repository = repository;
        Bus = bus;
        LoggerFactory = loggerFactory;
    }

    /// <summary>The options it was opened with.</summary>
    public EngineRuntimeOptions Options { get; }

    /// <summary>The repository.</summary>
    public IMetricRepository Repository { get; }

    /// <summary>The bus.</summary>
    public IMessageBus Bus { get; }

    /// <summary>Logging for the services.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Opens the repository and the bus and declares the engine's queues and exchange.</summary>
    /// <param name="options">What to open.</param>
    /// <param name="loggerFactory">Logging, or null.</param>
    /// <param name="cancellationToken">Cancels the opening (whatever was opened is closed again).</param>
    /// <returns>The runtime.</returns>
    /// <exception cref="StorageConnectionException">The repository cannot be reached; the message names it.</exception>
    public static async Task<EngineRuntime> OpenAsync(EngineRuntimeOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        var repository = await MetricRepository.OpenAsync(options.Storage, loggerFactory, cancellationToken).ConfigureAwait(false);
        IMessageBus? bus = null;
        try
        {
            bus = options.Broker is { } broker
                ? await RabbitMqMessageBus.ConnectAsync(broker, loggerFactory.CreateLogger("HtmEngine.Bus"), cancellationToken).ConfigureAwait(false)
                : new InProcessMessageBus(logger: loggerFactory.CreateLogger("HtmEngine.Bus"));
            await bus.DeclareQueueAsync(options.MetricDataQueue, cancellationToken).ConfigureAwait(false);
            await bus.DeclareQueueAsync(options.ResultsQueue, cancellationToken).ConfigureAwait(false);
            await bus.DeclareFanoutExchangeAsync(options.ResultsExchange, cancellationToken).ConfigureAwait(false);
            for (int shard = 0; shard < options.Shards; shard++)
            {
                await bus.DeclareQueueAsync(ModelShards.InputQueue(options.ModelInputQueuePrefix, shard), cancellationToken).ConfigureAwait(false);
            }

            return new EngineRuntime(options, repository, bus, loggerFactory);
        }
        catch
        {
            if (bus is not null)
            {
                await bus.DisposeAsync().ConfigureAwait(false);
            }

            await repository.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>One line naming the backends and the queues, for the start-up report.</summary>
    /// <returns>The text.</returns>
    public string Describe()
    {
        var o = Options;
        string bus = o.Broker is { } b ? $"RabbitMQ {b.User}@{b.Host}:{b.Port}{b.VirtualHost}" : "in-process bus";
        string shards = o.Shards > 0 ? o.Shards.ToString(CultureInfo.InvariantCulture) + " shard queue(s) " + o.ModelInputQueuePrefix + "shard.N" : "shard queues " + o.ModelInputQueuePrefix + "shard.N";
        return $"backend {Repository.Backend} ({o.Storage.Describe()}), {bus}; queues {o.MetricDataQueue}, {o.ResultsQueue}, {shards}; exchange {o.ResultsExchange}";
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Bus.DisposeAsync().ConfigureAwait(false);
        await Repository.DisposeAsync().ConfigureAwait(false);
    }
}
