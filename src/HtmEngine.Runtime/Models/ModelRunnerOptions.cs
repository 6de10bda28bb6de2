namespace HtmEngine.Runtime.Models;

/// <summary>
/// How the model runners of one process work: which queues they read and write, how many shards the engine has,
/// how much memory hot models may take and where checkpoints live. The server maps
/// <c>model-swapper.conf</c> and <c>model-checkpoint.conf</c> onto this record.
/// </summary>
/// <param name="ModelInputQueuePrefix"><c>[interface_bus] model_input_queue_prefix</c>; shard k reads prefix + <c>shard.k</c>.</param>
/// <param name="ResultsQueue"><c>[interface_bus] results_queue</c>.</param>
/// <param name="Shards"><c>[model_runner] shards</c>: how many shards the engine has; 0 = one per processor.</param>
/// <param name="MemoryBudgetBytes"><c>[model_runner] memory_budget_mb</c> in bytes: the estimated memory all hot models of this process may take.</param>
/// <param name="CheckpointRoot"><c>model-checkpoint.conf [storage] root</c>: the directory of the checkpoint files (created when missing).</param>
public sealed record ModelRunnerOptions(
    string ModelInputQueuePrefix,
    string ResultsQueue,
    int Shards,
    long MemoryBudgetBytes,
    string CheckpointRoot)
{
    /// <summary>
    /// The shards this process runs; null (the default) runs all of them. Processes that share a broker may split
    /// the shards between them (RabbitMQ's single-active-consumer hands a dead process's shards to another).
    /// </summary>
    public IReadOnlyList<int>? OwnedShards { get; init; }

    /// <summary>
    /// Rows read from <c>metric_data</c> per catch-up query, and the most results in one result message
    /// (<c>[metric_streamer] chunk_size</c>, 1440 by default).
    /// </summary>
    public int ChunkSize { get; init; } = 1440;

    /// <summary>
    /// A hot model is checkpointed after it scored this many rows since its last checkpoint, so a crash replays at
    /// most this many rows per model. Default 10,000: a full NAB-sized model takes about 0.2 s to save, about
    /// 5 % of the time to score that many rows.
    /// </summary>
    public int CheckpointEveryRows { get; init; } = 10_000;

    /// <summary>
    /// Prefetch of each shard consumer. Default 2, as the original's blocking consumers; raised to twice
    /// <see cref="BatchMessages"/> when lower, so the next batch gathers while one is scored.
    /// </summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>
    /// Most waiting input messages a shard handles as one unit, their results published together (one confirm) and
    /// then all acknowledged (issue #7). 1 handles one message at a time. Default 64.
    /// </summary>
    public int BatchMessages { get; init; } = 64;

    /// <summary>Most body bytes of the input messages handled as one unit. Default 8 MiB.</summary>
    public int BatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Failures of one input message before it goes to the shard queue's dead-letter queue. Default 5.</summary>
    public int MaxFailedAttempts { get; init; } = 5;

    /// <summary><see cref="Shards"/> with 0 resolved to <see cref="Environment.ProcessorCount"/>.</summary>
    public int ShardCount => Shards == 0 ? Environment.ProcessorCount : Shards;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that is out of range.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(ModelInputQueuePrefix, nameof(ModelInputQueuePrefix));
        ArgumentException.ThrowIfNullOrEmpty(ResultsQueue, nameof(ResultsQueue));
        ArgumentException.ThrowIfNullOrEmpty(CheckpointRoot, nameof(CheckpointRoot));
        ArgumentOutOfRangeException.ThrowIfNegative(Shards, nameof(Shards));
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryBudgetBytes, 0, nameof(MemoryBudgetBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkSize, 1, nameof(ChunkSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(CheckpointEveryRows, 1, nameof(CheckpointEveryRows));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchMessages, 1, nameof(BatchMessages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BatchMessages, ushort.MaxValue / 2, nameof(BatchMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchBytes, 1, nameof(BatchBytes));
        if (!Path.IsPathFullyQualified(CheckpointRoot))
        {
            throw new ArgumentException($"checkpoint root '{CheckpointRoot}' must be an absolute path", nameof(CheckpointRoot));
        }

        if (OwnedShards is not null)
        {
            foreach (int shard in OwnedShards)
            {
                if (shard < 0 || shard >= ShardCount)
                {
                    throw new ArgumentException($"owned shard {shard} is outside [0, {ShardCount})", nameof(OwnedShards));
                }
            }
        }
    }
}
