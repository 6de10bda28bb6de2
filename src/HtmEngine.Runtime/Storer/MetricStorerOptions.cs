namespace HtmEngine.Runtime.Storer;

/// <summary>How the metric storer consumes, stores and forwards.</summary>
/// <param name="DataQueue"><c>application.conf [metric_listener] queue_name</c>: the queue it consumes.</param>
/// <param name="ModelInputQueuePrefix"><c>model-swapper.conf [interface_bus] model_input_queue_prefix</c>.</param>
/// <param name="ShardCount"><c>[model_runner] shards</c>; 0 = one per processor.</param>
public sealed record MetricStorerOptions(string DataQueue, string ModelInputQueuePrefix, int ShardCount)
{
    /// <summary><c>[metric_streamer] chunk_size</c>: most row requests per shard message (default 1440).</summary>
    public int ChunkSize { get; init; } = 1440;

    /// <summary>Most metric names cached (name → uid); beyond it the least recently used third is dropped. Default 100,000 (the original kept 15,000).</summary>
    public int MetricCacheCapacity { get; init; } = 100_000;

    /// <summary>Last rowid at which a PENDING_DATA metric is activated (htmengine: 288).</summary>
    public int ActivationThreshold { get; init; } = 288;

    /// <summary>Unsettled deliveries the consumer holds; raised to twice <see cref="BatchMessages"/> when lower, so the next batch gathers while one is stored.</summary>
    public int Prefetch { get; init; } = 8;

    /// <summary>
    /// Most queued messages stored together: one transaction, one forward (confirmed) per shard and one
    /// acknowledgement for all of them (issue #7). 1 handles one message at a time. Default 64.
    /// </summary>
    public int BatchMessages { get; init; } = 64;

    /// <summary>Most body bytes of the messages stored together (a single larger message still goes alone). Default 8 MiB.</summary>
    public int BatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Handler failures before the bus dead-letters a message (failures the storer cannot classify).</summary>
    public int MaxFailedAttempts { get; init; } = 5;

    /// <summary>Longest pause between two attempts at a message whose storage or forwarding failed transiently.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The clock that replaces <c>-1</c> timestamps of JSON lines.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws when a value is out of range; the message names the field.</summary>
    public void Validate()
    {
        if (string.IsNullOrEmpty(DataQueue))
        {
            throw new ArgumentException("MetricStorerOptions.DataQueue must not be empty", nameof(DataQueue));
        }

        if (string.IsNullOrEmpty(ModelInputQueuePrefix))
        {
            throw new ArgumentException("MetricStorerOptions.ModelInputQueuePrefix must not be empty", nameof(ModelInputQueuePrefix));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(ShardCount, nameof(ShardCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkSize, 1, nameof(ChunkSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MetricCacheCapacity, 1, nameof(MetricCacheCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(ActivationThreshold, 1, nameof(ActivationThreshold));
        ArgumentOutOfRangeException.ThrowIfLessThan(Prefetch, 1, nameof(Prefetch));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchMessages, 1, nameof(BatchMessages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BatchMessages, ushort.MaxValue / 2, nameof(BatchMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchBytes, 1, nameof(BatchBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFailedAttempts, 1, nameof(MaxFailedAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRetryDelay, TimeSpan.FromMilliseconds(1), nameof(MaxRetryDelay));
    }
}
