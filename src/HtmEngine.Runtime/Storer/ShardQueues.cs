using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;

namespace HtmEngine.Runtime.Storer;

/// <summary>
/// Publishes model requests to the shard queues (<see cref="ModelShards"/>), declaring each queue before its first
/// publish and again when the broker says it is gone, so rows and commands wait there for their runner whatever the
/// start order of the services. Shared by the storer and the datasource adapter; thread-safe.
/// </summary>
internal sealed class ShardQueues
{
    private readonly IMessageBus _bus;
    private readonly string[] _names;
    private readonly int[] _declared;

    /// <summary>Creates the publisher.</summary>
    /// <param name="bus">The bus.</param>
    /// <param name="modelInputQueuePrefix"><c>[interface_bus] model_input_queue_prefix</c>.</param>
    /// <param name="shardCount">The number of shards (at least 1).</param>
    public ShardQueues(IMessageBus bus, string modelInputQueuePrefix, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentException.ThrowIfNullOrEmpty(modelInputQueuePrefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        _bus = bus;
        _names = new string[shardCount];
        _declared = new int[shardCount];
        for (var i = 0; i < shardCount; i++)
        {
            _names[i] = ModelShards.InputQueue(modelInputQueuePrefix, i);
        }
    }

    /// <summary>The number of shards.</summary>
    public int Count => _names.Length;

    /// <summary>The queue of a shard.</summary>
    /// <param name="shard">The shard.</param>
    /// <returns>Its queue name.</returns>
    public string QueueOf(int shard) => _names[shard];

    /// <summary>The shard of a metric.</summary>
    /// <param name="uid">The metric uid.</param>
    /// <returns>The shard index.</returns>
    public int ShardOf(string uid) => ModelShards.ShardOf(uid, _names.Length);

    /// <summary>Declares every shard queue (idempotent).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    public async Task DeclareAllAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < _names.Length; i++)
        {
            await _bus.DeclareQueueAsync(_names[i], cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _declared[i], 1);
        }
    }

    /// <summary>Encodes requests into one message for a shard.</summary>
    /// <param name="requests">The requests, in order.</param>
    /// <returns>The message.</returns>
    public static OutgoingMessage Encode(ReadOnlySpan<ModelRequest> requests) =>
        new(ModelMessageCodec.EncodeRequests(requests), Guid.NewGuid().ToString("N"), null, ModelMessageCodec.RequestsContentType);

    /// <summary>Publishes messages to a shard's queue and returns when the bus confirmed them all.</summary>
    /// <param name="shard">The shard.</param>
    /// <param name="messages">The messages, in order.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    public async Task PublishAsync(int shard, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _declared[shard]) == 0)
        {
            await _bus.DeclareQueueAsync(_names[shard], cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _declared[shard], 1);
        }

        try
        {
            await _bus.PublishToQueueAsync(_names[shard], messages, cancellationToken).ConfigureAwait(false);
        }
        catch (QueueNotFoundException)
        {
            // Deleted behind our back (an operator, a test): declare it again and publish once more.
            await _bus.DeclareQueueAsync(_names[shard], cancellationToken).ConfigureAwait(false);
            await _bus.PublishToQueueAsync(_names[shard], messages, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Publishes one request to the shard of its metric.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    public Task PublishAsync(ModelRequest request, CancellationToken cancellationToken) =>
        PublishAsync(ShardOf(request.MetricUid), [Encode([request])], cancellationToken);

    /// <summary>Resolves a configured shard count: 0 means one shard per processor.</summary>
    /// <param name="configured"><c>[model_runner] shards</c>.</param>
    /// <returns>The shard count (at least 1).</returns>
    public static int Resolve(int configured)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(configured);
        return configured == 0 ? Environment.ProcessorCount : configured;
    }
}
