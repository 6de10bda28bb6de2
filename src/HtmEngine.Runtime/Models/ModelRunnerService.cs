using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Models;

/// <summary>
/// The model scheduler and its shard runners (service <c>models</c>): one consumer per shard input queue, the
/// shard's models in memory under a memory budget (least recently used ones checkpointed and dropped, reloaded on
/// demand), start-up recovery of every monitored metric whose stored rows are beyond its checkpoint, and
/// checkpoints of the hot models on a graceful stop. See docs/engine-design.md and docs/model-swapping.md.
/// </summary>
/// <remarks>
/// The memory budget is split evenly between the shards of this process, so a shard never evicts another shard's
/// models (each shard's models are touched by its own runner only). <see cref="DisposeAsync"/> without
/// <see cref="StopAsync"/> abandons the hot models as a crash would (nothing is checkpointed); the next start
/// recovers them from their checkpoints and the database.
/// </remarks>
public sealed class ModelRunnerService : IEngineService, IAsyncDisposable
{
    private readonly IMetricRepository _repository;
    private readonly IMessageBus _bus;
    private readonly ModelRunnerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private ShardRunner[] _runners = [];
    private ModelCheckpointStore? _store;
    private bool[] _owned = [];
    private Task _recovery = Task.CompletedTask;
    private bool _started;
    private bool _stopped;

    /// <summary>Creates the service; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <param name="repository">The metric repository (rows for catch-up, definitions, the metrics to recover).</param>
    /// <param name="bus">The bus carrying the shard input queues and the results queue.</param>
    /// <param name="options">Queues, shards, memory budget and checkpoint root.</param>
    /// <param name="loggerFactory">Logging.</param>
    public ModelRunnerService(IMetricRepository repository, IMessageBus bus, ModelRunnerOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _repository = repository;
        _bus = bus;
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("HtmEngine.Runtime.Models");
    }

    /// <inheritdoc />
    public string Name => "models";

    /// <summary>What the runners did so far.</summary>
    public ModelRunnerCounters Counters { get; } = new();

    /// <summary>
    /// Completes when every shard of this process finished its start-up recovery and consumes its input queue
    /// (faults if a shard could not subscribe).
    /// </summary>
    public Task Recovery => _recovery;

    /// <summary>Models held in memory by the shards of this process.</summary>
    public int HotModels
    {
        get
        {
            int total = 0;
            foreach (ShardRunner runner in _runners)
            {
                total += runner.HotModels;
            }

            return total;
        }
    }

    /// <summary>
    /// Models of this process's shards that are checkpointed but not in memory (cold): the checkpoint files of the owned
    /// shards minus <see cref="HotModels"/>, since every model a runner knows has a checkpoint file from its definition
    /// on. Lists the checkpoint directory, so it is meant for a scrape, not a hot path; 0 before start.
    /// </summary>
    public int ColdModels
    {
        get
        {
            if (_store is not { } store)
            {
                return 0;
            }

            bool[] owned = _owned;
            int shards = owned.Length;
            int files = store.CountCheckpoints(uid => owned[ModelShards.ShardOf(uid, shards)]);

            // Read racily against the runners: a model being defined or deleted may be counted on one side only.
            return Math.Max(0, files - HotModels);
        }
    }

    /// <summary>Estimated bytes of all hot models of this process.</summary>
    public long HotModelBytes
    {
        get
        {
            long total = 0;
            foreach (ShardRunner runner in _runners)
            {
                total += runner.HotBytes;
            }

            return total;
        }
    }

    /// <summary>
    /// Declares the results queue and the shard input queues, removes the temporary files of interrupted
    /// checkpoint saves, then (in the background, see <see cref="Recovery"/>) catches up every ACTIVE or
    /// CREATE_PENDING metric of this process's shards that is behind its checkpoint and starts consuming.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task.</returns>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_started)
        {
            throw new InvalidOperationException("the models service was already started");
        }

        _started = true;
        int shardCount = _options.ShardCount;
        bool[] owned = new bool[shardCount];
        if (_options.OwnedShards is null)
        {
            Array.Fill(owned, true);
        }
        else
        {
            foreach (int shard in _options.OwnedShards)
            {
                owned[shard] = true;
            }
        }

        var store = new ModelCheckpointStore(_options.CheckpointRoot);
        foreach (string file in store.RemoveLeftoverTemporaryFiles(uid => owned[ModelShards.ShardOf(uid, shardCount)]))
        {
            Counters.LeftoverTempFile();
            ModelRunnerLog.LeftoverTemp(_logger, file);
        }

        await _bus.DeclareQueueAsync(_options.ResultsQueue, cancellationToken).ConfigureAwait(false);
        var runners = new List<ShardRunner>();
        int ownedCount = Array.FindAll(owned, o => o).Length;
        long budgetPerShard = _options.MemoryBudgetBytes / Math.Max(1, ownedCount);
        for (int shard = 0; shard < shardCount; shard++)
        {
            if (!owned[shard])
            {
                continue;
            }

            var runner = new ShardRunner(shard, shardCount, _repository, _bus, _options, store, Counters, budgetPerShard, _logger);
            await _bus.DeclareQueueAsync(runner.InputQueue, cancellationToken).ConfigureAwait(false);
            runners.Add(runner);
        }

        _runners = [.. runners];
        _owned = owned;
        _store = store;
        ModelRunnerLog.Started(_logger, string.Join(",", Array.ConvertAll(_runners, r => r.InputQueue)), shardCount,
            _options.MemoryBudgetBytes >> 20, store.Root);

        // One listing for all shards, split by shard.
        IReadOnlyList<MetricRow> models = await _repository.ListModelsAsync(cancellationToken).ConfigureAwait(false);
        var perShard = new Dictionary<int, List<MetricRow>>();
        foreach (MetricRow metric in models)
        {
            bool recoverable = metric.Status == MetricStatus.Active || (metric.Status == MetricStatus.CreatePending && HasDefinition(metric));
            int shard = ModelShards.ShardOf(metric.Uid, shardCount);
            if (recoverable && owned[shard])
            {
                if (!perShard.TryGetValue(shard, out List<MetricRow>? list))
                {
                    perShard[shard] = list = [];
                }

                list.Add(metric);
            }
        }

        var tasks = new Task[_runners.Length];
        for (int i = 0; i < _runners.Length; i++)
        {
            ShardRunner runner = _runners[i];
            IReadOnlyList<MetricRow> mine = perShard.GetValueOrDefault(runner.Shard) ?? (IReadOnlyList<MetricRow>)[];
            tasks[i] = Task.Run(() => RecoverThenConsumeAsync(runner, mine, _stopping.Token), CancellationToken.None);
        }

        _recovery = Task.WhenAll(tasks);
    }

    /// <summary>
    /// Stops consuming (in-flight messages finish or go back to their queues), then checkpoints every hot model
    /// that scored rows since its last checkpoint.
    /// </summary>
    /// <param name="cancellationToken">Ends a stop that takes too long (models not yet checkpointed are recovered at the next start).</param>
    /// <returns>A task.</returns>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_started || _stopped)
        {
            return;
        }

        _stopped = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _recovery.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        await DisposeSubscriptionsAsync().ConfigureAwait(false);
        int checkpointed = 0;
        foreach (ShardRunner runner in _runners)
        {
            checkpointed += await runner.CheckpointAllAsync(cancellationToken).ConfigureAwait(false);
        }

        ModelRunnerLog.Stopped(_logger, checkpointed);
    }

    /// <summary>Stops consuming without checkpointing (as a crash would, for the models); use <see cref="StopAsync"/> for a graceful stop.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _stopping.CancelAsync().ConfigureAwait(false);
            try
            {
                await _recovery.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await DisposeSubscriptionsAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private static bool HasDefinition(MetricRow metric)
    {
        try
        {
            return ModelFactory.DefinitionFromModelParams(metric.ModelParams) is not null;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private async Task RecoverThenConsumeAsync(ShardRunner runner, IReadOnlyList<MetricRow> metrics, CancellationToken cancellationToken)
    {
        await runner.RecoverAsync(metrics, cancellationToken).ConfigureAwait(false);
        var consumer = new BatchConsumerOptions(
            _options.BatchMessages,
            _options.BatchBytes,
            Math.Min(ushort.MaxValue, Math.Max(_options.Prefetch, 2 * _options.BatchMessages)),
            _options.MaxFailedAttempts);
        runner.Subscription = await _bus.ConsumeBatchAsync(runner.InputQueue, runner.HandleBatchAsync, consumer, cancellationToken).ConfigureAwait(false);
    }

    private async Task DisposeSubscriptionsAsync()
    {
        foreach (ShardRunner runner in _runners)
        {
            if (runner.Subscription is { } subscription)
            {
                runner.Subscription = null;
                await subscription.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
