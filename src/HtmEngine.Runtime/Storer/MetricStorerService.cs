using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Runtime.Storer;

/// <summary>
/// The metric storer (htmengine-spec §3, issue #7): consumes the metric data queue (JSON <c>plain</c> and binary
/// sample batches) in batches (every message already waiting, up to <see cref="MetricStorerOptions.BatchMessages"/>),
/// creates unknown metrics (UNMONITORED), stores the samples of all the batch's messages and metrics in one
/// transaction (<see cref="IMetricRepository.StoreSampleBatchAsync"/>, rowids assigned there), forwards the stored
/// rows of CREATE_PENDING and ACTIVE metrics to their shard queues, activates PENDING_DATA metrics that reached
/// <see cref="MetricStorerOptions.ActivationThreshold"/> rows, and only then acknowledges the batch's messages.
/// </summary>
/// <remarks>
/// Failures: an undecodable message is dead-lettered with its reason logged; a bad line, a duplicate or
/// out-of-order sample, or a metric the database refuses is counted and logged and never costs the other lines of
/// the message. A transient storage or bus failure is retried in place with back-off (never requeued behind later
/// messages, which would turn their samples' order around), so nothing is lost or reordered; on stop the message
/// goes back to the queue unacknowledged. Data of ERROR metrics is stored (§12.8 fixed) but not forwarded.
/// </remarks>
public sealed class MetricStorerService : IEngineService, IAsyncDisposable
{
    private readonly IMetricRepository _repository;
    private readonly IMessageBus _bus;
    private readonly MetricStorerOptions _options;
    private readonly DatasourceAdapter _adapter;
    private readonly ShardQueues _shards;
    private readonly MetricCache _cache;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _hardStop = new();

    // Per-batch scratch space, reused: the handler runs one batch at a time. The bus promises that, and _oneBatch makes
    // sure of it: a bus that overlapped two calls (RabbitMQ's consumer did across a connection recovery, issue #7) would
    // otherwise let one call's samples be grouped into another's half-done batch, stored under one call and forwarded
    // or acknowledged under the other.
    private readonly SemaphoreSlim _oneBatch = new(1, 1);
    private readonly Dictionary<string, int> _groupIndex = new(StringComparer.Ordinal);
    private readonly List<Group> _groups = [];
    private readonly List<MetricSamples> _batch = [];
    private readonly List<int> _batchGroups = [];
    private readonly List<ModelRequest>[] _perShard;
    private readonly List<string> _activations = [];
    private int _groupCount;

    private IBusSubscription? _subscription;
    private bool _stopping;
    private bool _busy;
    private TaskCompletionSource? _idle;

    /// <summary>Creates the storer with its own datasource adapter (for activations) on the same queues.</summary>
    /// <param name="repository">The repository.</param>
    /// <param name="bus">The bus.</param>
    /// <param name="options">Queues, shards and limits.</param>
    /// <param name="loggerFactory">Logging, or null for none.</param>
    public MetricStorerService(IMetricRepository repository, IMessageBus bus, MetricStorerOptions options, ILoggerFactory? loggerFactory = null)
        : this(repository, bus, options, null, loggerFactory)
    {
    }

    /// <summary>Creates the storer.</summary>
    /// <param name="repository">The repository.</param>
    /// <param name="bus">The bus.</param>
    /// <param name="options">Queues, shards and limits.</param>
    /// <param name="adapter">The adapter that activates PENDING_DATA metrics (its parameter set decides the models); null for one with default model choices.</param>
    /// <param name="loggerFactory">Logging, or null for none.</param>
    public MetricStorerService(IMetricRepository repository, IMessageBus bus, MetricStorerOptions options, DatasourceAdapter? adapter, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _repository = repository;
        _bus = bus;
        _options = options;
        var shardCount = ShardQueues.Resolve(options.ShardCount);
        _shards = new ShardQueues(bus, options.ModelInputQueuePrefix, shardCount);
        _adapter = adapter ?? new DatasourceAdapter(repository, bus, new DatasourceAdapterOptions(options.ModelInputQueuePrefix, shardCount), loggerFactory);
        _cache = new MetricCache(options.MetricCacheCapacity);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("HtmEngine.Runtime.Storer");
        _perShard = new List<ModelRequest>[shardCount];
        for (var i = 0; i < shardCount; i++)
        {
            _perShard[i] = [];
        }
    }

    /// <inheritdoc/>
    public string Name => "storer";

    /// <summary>What the storer has done so far.</summary>
    public MetricStorerCounters Counters { get; } = new();

    /// <summary>
    /// Where a message's time goes: decoding and grouping, storing (name resolution and the transaction), forwarding
    /// to the shard queues (confirmed), and activations.
    /// </summary>
    public StageTimings Timings { get; } = new("decode", "store", "forward", "activate");

    private const int StageDecode = 0;
    private const int StageStore = 1;
    private const int StageForward = 2;
    private const int StageActivate = 3;

    /// <summary>Completes when the consumer ends (faulted when the broker cancelled it); null before start.</summary>
    public Task? Completion => _subscription?.Completion;

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null)
        {
            throw new InvalidOperationException("the storer is already started");
        }

        await _bus.DeclareQueueAsync(_options.DataQueue, cancellationToken).ConfigureAwait(false);
        await _shards.DeclareAllAsync(cancellationToken).ConfigureAwait(false);
        foreach (var metric in await _repository.ListMetricsAsync(DatasourceAdapter.Datasource, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (_cache.Count >= _options.MetricCacheCapacity)
            {
                break;
            }

            if (metric.Name is { } name && !_cache.TryGet(name, out _))
            {
                _cache.Set(name, metric.Uid);
            }
        }

        var consumer = new BatchConsumerOptions(
            _options.BatchMessages,
            _options.BatchBytes,
            Math.Min(ushort.MaxValue, Math.Max(_options.Prefetch, 2 * _options.BatchMessages)),
            _options.MaxFailedAttempts);
        _subscription = await _bus.ConsumeBatchAsync(_options.DataQueue, HandleBatchAsync, consumer, cancellationToken).ConfigureAwait(false);
        _ = LogEndAsync(_subscription);
        StorerLog.Started(_logger, _options.DataQueue, _shards.Count, _options.ModelInputQueuePrefix, _cache.Count);
    }

    private async Task LogEndAsync(IBusSubscription subscription)
    {
        try
        {
            await subscription.Completion.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            StorerLog.ConsumerEnded(_logger, e, _options.DataQueue);
        }
    }

    /// <summary>
    /// Stops taking messages, lets the batch in hand finish (stored, forwarded, acknowledged), then ends the
    /// consumer. When <paramref name="cancellationToken"/> fires first, the batch in hand goes back to the queue.
    /// </summary>
    /// <param name="cancellationToken">Ends a stop that takes too long.</param>
    /// <returns>A task.</returns>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task idle;
        lock (_gate)
        {
            _stopping = true;
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_busy)
            {
                _idle.TrySetResult();
            }

            idle = _idle.Task;
        }

        try
        {
            await idle.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _hardStop.CancelAsync().ConfigureAwait(false);
        }

        if (_subscription is { } subscription)
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
        }

        StorerLog.Stopped(_logger, Counters.Messages, Counters.SamplesStored, Counters.RejectedTotal, Counters.RowsForwarded);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_subscription is { } subscription)
        {
            await _hardStop.CancelAsync().ConfigureAwait(false);
            await subscription.DisposeAsync().ConfigureAwait(false);
        }

        _hardStop.Dispose();
    }

    /// <summary>The bus's batch handler (internal for tests, which hand it batches of their own making).</summary>
    internal async ValueTask<IReadOnlyList<ConsumeOutcome>> HandleBatchAsync(IReadOnlyList<BusMessage> messages, CancellationToken busToken)
    {
        await _oneBatch.WaitAsync(busToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (!_stopping)
                {
                    _busy = true;
                }
            }

            if (!_busy)
            {
                // Stopping: hold the batch until the subscription ends, so it goes back unacknowledged in place.
                await Task.Delay(Timeout.Infinite, busToken).ConfigureAwait(false);
            }

            try
            {
                return await ProcessAsync(messages, busToken).ConfigureAwait(false);
            }
            finally
            {
                lock (_gate)
                {
                    _busy = false;
                    if (_stopping)
                    {
                        _idle?.TrySetResult();
                    }
                }
            }
        }
        finally
        {
            _oneBatch.Release();
        }
    }

    /// <summary>
    /// Stores the samples of every message of the batch together: each metric's samples in queue order (so the
    /// ordering rules see them exactly as message by message), one transaction, one confirmed forward per shard, then
    /// every message acknowledged by the bus. An undecodable message is dead-lettered alone; its neighbours go on.
    /// </summary>
    private async ValueTask<IReadOnlyList<ConsumeOutcome>> ProcessAsync(IReadOnlyList<BusMessage> messages, CancellationToken busToken)
    {
        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcomes = new ConsumeOutcome[messages.Count];
        var samples = 0;
        for (var m = 0; m < messages.Count; m++)
        {
            var message = messages[m];
            Counters.AddMessage();
            DecodedMetricMessage decoded;
            try
            {
                decoded = MetricMessageDecoder.Decode(message.ContentType, message.Body.Span, _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds());
            }
            catch (MetricMessageFormatException e)
            {
                Counters.AddDeadLettered();
                StorerLog.Poison(_logger, message.MessageId, message.Queue, e.Message);
                outcomes[m] = ConsumeOutcome.DeadLetter;
                continue;
            }

            if (decoded.Rejected.Count > 0)
            {
                foreach (var line in decoded.Rejected)
                {
                    Counters.AddRejectedLine(line.Reason);
                }

                var first = decoded.Rejected[0];
                StorerLog.BadLines(_logger, message.MessageId, decoded.Rejected.Count, first.Reason.ToCounterName(), first.Line.Length > 200 ? first.Line[..200] : first.Line);
            }

            Counters.AddReceived(decoded.Samples.Count);
            GroupByMetric(decoded.Samples);
            samples += decoded.Samples.Count;
            outcomes[m] = ConsumeOutcome.Ack;
        }

        try
        {
            if (samples > 0)
            {
                t = Timings.Add(StageDecode, t);
                await StoreAsync(busToken).ConfigureAwait(false);
                t = Timings.Add(StageStore, t);
                await ForwardAsync(busToken).ConfigureAwait(false);
                t = Timings.Add(StageForward, t);
                await ActivateAsync().ConfigureAwait(false);
                Timings.Add(StageActivate, t);
            }
        }
        finally
        {
            ClearScratch();
        }

        for (var m = 0; m < outcomes.Length; m++)
        {
            if (outcomes[m] == ConsumeOutcome.Ack)
            {
                Counters.AddAcked();
            }
        }

        return outcomes;
    }

    // ------------------------------------------------------------------ grouping

    /// <summary>One metric's samples of the message being processed.</summary>
    private sealed class Group
    {
        public string Name { get; set; } = string.Empty;

        public string? Uid { get; set; }

        public Sample[] Samples { get; set; } = new Sample[16];

        public int Count { get; set; }

        public StoreSamplesResult? Result { get; set; }

        public void Add(Sample sample)
        {
            if (Count == Samples.Length)
            {
                var grown = new Sample[Samples.Length * 2];
                Samples.AsSpan().CopyTo(grown);
                Samples = grown;
            }

            Samples[Count++] = sample;
        }

        public ReadOnlyMemory<Sample> Memory => Samples.AsMemory(0, Count);
    }

    private void GroupByMetric(IReadOnlyList<ReceivedSample> samples)
    {
        for (var i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            if (!_groupIndex.TryGetValue(s.Name, out var g))
            {
                g = _groupCount++;
                if (g == _groups.Count)
                {
                    _groups.Add(new Group());
                }

                var group = _groups[g];
                group.Name = s.Name;
                group.Uid = null;
                group.Count = 0;
                group.Result = null;
                _groupIndex.Add(s.Name, g);
            }

            _groups[g].Add(new Sample(DateTime.UnixEpoch.AddSeconds(s.TimestampSeconds), s.Value));
        }
    }

    private void ClearScratch()
    {
        _groupIndex.Clear();
        for (var g = 0; g < _groupCount; g++)
        {
            _groups[g].Result = null;
        }

        _groupCount = 0;
        _batch.Clear();
        _batchGroups.Clear();
        _activations.Clear();
        foreach (var list in _perShard)
        {
            list.Clear();
        }

        // A message with many more metrics than usual must not pin its scratch space for ever.
        if (_groups.Count > 4096)
        {
            _groups.RemoveRange(4096, _groups.Count - 4096);
        }
    }

    // ------------------------------------------------------------------ storing

    private async Task StoreAsync(CancellationToken busToken)
    {
        // Resolve names (cache, else get-or-create), store, and once more for metrics deleted meanwhile.
        for (var pass = 0; pass < 2; pass++)
        {
            await ResolveUidsAsync(busToken).ConfigureAwait(false);
            _batch.Clear();
            _batchGroups.Clear();
            for (var g = 0; g < _groupCount; g++)
            {
                var group = _groups[g];
                if (group.Uid is not null && group.Result is null)
                {
                    _batch.Add(new MetricSamples(group.Uid, group.Memory));
                    _batchGroups.Add(g);
                }
            }

            if (_batch.Count == 0)
            {
                return;
            }

            var results = await StoreBatchAsync(busToken).ConfigureAwait(false);
            var vanished = false;
            for (var i = 0; i < results.Length; i++)
            {
                var group = _groups[_batchGroups[i]];
                if (results[i] is { } result)
                {
                    group.Result = result;
                    Account(result);
                }
                else if (group.Uid is { } uid)
                {
                    // Deleted (and maybe re-created) since it was cached: resolve the name again.
                    StorerLog.MetricVanished(_logger, group.Name, uid);
                    _cache.Remove(group.Name);
                    group.Uid = null;
                    vanished = true;
                }
            }

            if (!vanished)
            {
                return;
            }
        }

        for (var g = 0; g < _groupCount; g++)
        {
            var group = _groups[g];
            if (group.Result is null && group.Uid is null && group.Count > 0)
            {
                RejectGroup(group, "its metric was deleted twice while the message was stored");
            }
        }
    }

    private void Account(StoreSamplesResult result)
    {
        Counters.AddStored(result.StoredCount);
        if (result.StoredCount == result.Outcomes.Count)
        {
            return;
        }

        long duplicates = 0, outOfOrder = 0, invalid = 0;
        foreach (var outcome in result.Outcomes)
        {
            switch (outcome)
            {
                case SampleOutcome.Duplicate: duplicates++; break;
                case SampleOutcome.OutOfOrder: outOfOrder++; break;
                case SampleOutcome.InvalidValue: invalid++; break;
                case SampleOutcome.MetricInError: invalid++; break;
                default: break;
            }
        }

        Counters.AddRejected(StorerRejectReason.Duplicate, duplicates);
        Counters.AddRejected(StorerRejectReason.OutOfOrder, outOfOrder);
        Counters.AddRejected(StorerRejectReason.InvalidValue, invalid);
    }

    private void RejectGroup(Group group, string reason)
    {
        Counters.AddRejected(StorerRejectReason.MetricFailed, group.Count);
        StorerLog.MetricFailed(_logger, group.Name, group.Count, reason);
        group.Count = 0;
    }

    private async Task ResolveUidsAsync(CancellationToken busToken)
    {
        for (var g = 0; g < _groupCount; g++)
        {
            var group = _groups[g];
            if (group.Uid is not null || group.Result is not null || group.Count == 0)
            {
                continue;
            }

            if (_cache.TryGet(group.Name, out var uid))
            {
                group.Uid = uid;
                continue;
            }

            var attempt = 0;
            while (true)
            {
                try
                {
                    var (metric, created) = await _repository.GetOrCreateCustomMetricAsync(group.Name, _hardStop.Token).ConfigureAwait(false);
                    if (created)
                    {
                        Counters.AddCreated();
                        StorerLog.MetricCreated(_logger, group.Name, metric.Uid);
                    }

                    _cache.Set(group.Name, metric.Uid);
                    group.Uid = metric.Uid;
                    break;
                }
                catch (StorageException e) when (!e.IsTransient)
                {
                    // This name is refused (too long for the column, …): the other metrics go on.
                    RejectGroup(group, "creating the metric failed: " + e.Message);
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await PauseAsync("creating a metric", e, ++attempt, busToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_hardStop.IsCancellationRequested)
                {
                    await HandBackAsync(busToken).ConfigureAwait(false);
                    throw;
                }
            }
        }
    }

    private async Task<StoreSamplesResult?[]> StoreBatchAsync(CancellationToken busToken)
    {
        var attempt = 0;
        while (true)
        {
            try
            {
                return await _repository.StoreSampleBatchAsync(_batch, _hardStop.Token).ConfigureAwait(false);
            }
            catch (StorageException e) when (!e.IsTransient && _batch.Count > 1)
            {
                // One metric may be what the database refuses: store them one by one so the others go on.
                return await StoreOneByOneAsync(busToken).ConfigureAwait(false);
            }
            catch (StorageException e) when (!e.IsTransient)
            {
                RejectGroup(_groups[_batchGroups[0]], "storing failed: " + e.Message);
                return [new StoreSamplesResult(MetricStatus.Unmonitored, 0, 0, [])];
            }
            catch (OperationCanceledException) when (_hardStop.IsCancellationRequested)
            {
                await HandBackAsync(busToken).ConfigureAwait(false);
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await PauseAsync("storing samples", e, ++attempt, busToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<StoreSamplesResult?[]> StoreOneByOneAsync(CancellationToken busToken)
    {
        var results = new StoreSamplesResult?[_batch.Count];
        for (var i = 0; i < _batch.Count; i++)
        {
            var attempt = 0;
            while (true)
            {
                try
                {
                    results[i] = (await _repository.StoreSampleBatchAsync([_batch[i]], _hardStop.Token).ConfigureAwait(false))[0];
                    break;
                }
                catch (StorageException e) when (!e.IsTransient)
                {
                    RejectGroup(_groups[_batchGroups[i]], "storing failed: " + e.Message);
                    results[i] = new StoreSamplesResult(MetricStatus.Unmonitored, 0, 0, []);
                    break;
                }
                catch (OperationCanceledException) when (_hardStop.IsCancellationRequested)
                {
                    await HandBackAsync(busToken).ConfigureAwait(false);
                    throw;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await PauseAsync("storing samples", e, ++attempt, busToken).ConfigureAwait(false);
                }
            }
        }

        return results;
    }

    // ------------------------------------------------------------------ forwarding and activation

    private async Task ForwardAsync(CancellationToken busToken)
    {
        var rows = 0;
        for (var g = 0; g < _groupCount; g++)
        {
            var group = _groups[g];
            if (group.Result is not { StoredCount: > 0 } result || group.Uid is not { } uid)
            {
                continue;
            }

            if (result.Status is MetricStatus.CreatePending or MetricStatus.Active)
            {
                var list = _perShard[_shards.ShardOf(uid)];
                var rowid = result.FirstRowid;
                var outcomes = result.Outcomes;
                var samples = group.Samples;
                for (var i = 0; i < outcomes.Count; i++)
                {
                    if (outcomes[i] == SampleOutcome.Stored)
                    {
                        list.Add(ModelRequest.ForRow(uid, rowid++, samples[i].Timestamp, samples[i].Value));
                    }
                }

                rows += result.StoredCount;
            }
            else if (result.Status == MetricStatus.PendingData && result.LastRowid >= _options.ActivationThreshold)
            {
                _activations.Add(uid);
            }
        }

        if (rows == 0)
        {
            return;
        }

        var pending = new List<Task>(_perShard.Length);
        for (var shard = 0; shard < _perShard.Length; shard++)
        {
            if (_perShard[shard].Count > 0)
            {
                pending.Add(PublishShardAsync(shard, busToken));
            }
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        Counters.AddForwarded(rows);
    }

    private async Task PublishShardAsync(int shard, CancellationToken busToken)
    {
        var requests = _perShard[shard];
        var messages = new List<OutgoingMessage>((requests.Count + _options.ChunkSize - 1) / _options.ChunkSize);
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(requests);
        for (var offset = 0; offset < span.Length; offset += _options.ChunkSize)
        {
            messages.Add(ShardQueues.Encode(span.Slice(offset, Math.Min(_options.ChunkSize, span.Length - offset))));
        }

        var attempt = 0;
        while (true)
        {
            try
            {
                await _shards.PublishAsync(shard, messages, _hardStop.Token).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (_hardStop.IsCancellationRequested)
            {
                await HandBackAsync(busToken).ConfigureAwait(false);
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The rows are committed; publishing them again is harmless (runners skip rowids they have).
                await PauseAsync("forwarding rows to " + _shards.QueueOf(shard), e, ++attempt, busToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ActivateAsync()
    {
        foreach (var uid in _activations)
        {
            StorerLog.Activating(_logger, uid, _options.ActivationThreshold);
            try
            {
                await _adapter.ActivateModelAsync(uid, _hardStop.Token).ConfigureAwait(false);
                Counters.AddActivation();
            }
            catch (Exception e) when (e is MetricStatisticsNotReadyException or MetricStatusChangedException or ObjectNotFoundException)
            {
                StorerLog.ActivationDeferred(_logger, uid, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The data is stored; the next batch of this metric tries again.
                StorerLog.ActivationFailed(_logger, e, uid);
            }
        }
    }

    // ------------------------------------------------------------------ retry and stop

    private async Task PauseAsync(string stage, Exception e, int attempt, CancellationToken busToken)
    {
        Counters.AddRetry();
        var delay = TimeSpan.FromMilliseconds(Math.Min(_options.MaxRetryDelay.TotalMilliseconds, 50 * Math.Pow(2, Math.Min(attempt - 1, 16))));
        StorerLog.Retrying(_logger, e, stage, attempt, (long)delay.TotalMilliseconds);
        try
        {
            await Task.Delay(delay, _hardStop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await HandBackAsync(busToken).ConfigureAwait(false);
            throw;
        }
    }

    // A hard stop: wait until the bus ends the subscription, then end with its token so that the bus
    // returns the message to the queue unacknowledged (not as a failure requeued behind later ones).
    private static async Task HandBackAsync(CancellationToken busToken) =>
        await Task.Delay(Timeout.Infinite, busToken).ConfigureAwait(false);
}
