using System.Diagnostics;
using System.Runtime.InteropServices;
using HtmEngine.Bus;
using HtmEngine.Core.Models;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Models;

/// <summary>
/// The models of one shard and the one consumer that feeds them. Everything that touches the shard's models
/// (messages, start-up recovery, the checkpoints of a graceful stop) runs under one gate, so a model is used by one
/// thread at a time; shards run in parallel.
/// </summary>
/// <remarks>
/// Results are buffered and published (confirmed) before the input message is acknowledged, at most
/// <see cref="ModelRunnerOptions.ChunkSize"/> per result message. A model is checkpointed only when none of its
/// results is still unpublished, so a checkpoint never covers a row whose result could be lost: after a crash, or a
/// failed message, the rows after the checkpoint are scored again (same raw scores) and published again.
/// </remarks>
internal sealed class ShardRunner
{
    private readonly int _shard;
    private readonly int _shardCount;
    private readonly IMetricRepository _repository;
    private readonly IMessageBus _bus;
    private readonly ModelRunnerOptions _options;
    private readonly ModelCheckpointStore _store;
    private readonly ModelRunnerCounters _counters;
    private readonly ILogger _logger;
    private readonly long _budgetBytes;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, ModelSlot> _slots = new(StringComparer.Ordinal);
    private readonly LinkedList<ModelSlot> _hot = new(); // first = most recently used
    private readonly List<ModelResult> _pending = [];
    private readonly List<ModelSlot> _touched = [];
    private readonly HashSet<string> _noModelLogged = new(StringComparer.Ordinal);
    private readonly List<ModelRequest> _orderFlat = [];
    private readonly List<ModelRequest> _ordered = [];
    private readonly Dictionary<string, int> _orderGroups = new(StringComparer.Ordinal);
    private int[] _orderNext = new int[256];
    private int[] _orderHead = new int[64];
    private int[] _orderTail = new int[64];
    private long _hotBytes;
    private string _messageId = string.Empty;
    private int _flushIndex;

    public ShardRunner(int shard, int shardCount, IMetricRepository repository, IMessageBus bus, ModelRunnerOptions options,
        ModelCheckpointStore store, ModelRunnerCounters counters, long budgetBytes, ILogger logger)
    {
        _shard = shard;
        _shardCount = shardCount;
        _repository = repository;
        _bus = bus;
        _options = options;
        _store = store;
        _counters = counters;
        _budgetBytes = budgetBytes;
        _logger = logger;
        InputQueue = ModelShards.InputQueue(options.ModelInputQueuePrefix, shard);
    }

    /// <summary>The shard index.</summary>
    public int Shard => _shard;

    /// <summary>The shard's input queue.</summary>
    public string InputQueue { get; }

    /// <summary>The shard's consumer, once recovery finished.</summary>
    public IBusSubscription? Subscription { get; set; }

    /// <summary>Estimated bytes of the shard's hot models.</summary>
    public long HotBytes => Interlocked.Read(ref _hotBytes);

    /// <summary>Number of hot models.</summary>
    public int HotModels => _hot.Count;

    /// <summary>Handles one input message: every request in order, then the results published, then the ack.</summary>
    public async ValueTask<ConsumeOutcome> HandleAsync(BusMessage message, CancellationToken cancellationToken)
    {
        List<ModelRequest>? requests = Decode(message);
        return requests is null ? ConsumeOutcome.DeadLetter : await HandleDecodedAsync(message, requests, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Handles a batch of input messages as one unit: every request of every message, each metric's requests together
    /// and in queue order (so each metric's rows keep their order; see <see cref="OrderByMetric"/>), the results of all
    /// of them published together (one confirm instead of one per message), then every message acknowledged. An undecodable message is dead-lettered alone. When the unit fails, its
    /// results are dropped (nothing was published from it but what a full chunk flushed, which scoring again
    /// reproduces) and the messages are handled again one at a time, so a message that keeps failing costs only itself.
    /// A database outage is not a failure: the whole batch is run again in place after a pause (see <see cref="RunUnitAsync"/>).
    /// </summary>
    public async ValueTask<IReadOnlyList<ConsumeOutcome>> HandleBatchAsync(IReadOnlyList<BusMessage> messages, CancellationToken cancellationToken)
    {
        var outcomes = new ConsumeOutcome[messages.Count];
        var decoded = new List<ModelRequest>?[messages.Count];
        var good = 0;
        var firstGood = -1;
        for (var i = 0; i < messages.Count; i++)
        {
            decoded[i] = Decode(messages[i]);
            if (decoded[i] is null)
            {
                outcomes[i] = ConsumeOutcome.DeadLetter;
            }
            else
            {
                good++;
                firstGood = firstGood < 0 ? i : firstGood;
            }
        }

        if (good == 1)
        {
            outcomes[firstGood] = await HandleDecodedAsync(messages[firstGood], decoded[firstGood]!, cancellationToken).ConfigureAwait(false);
            return outcomes;
        }

        if (good == 0)
        {
            return outcomes;
        }

        // The unit's id is stable for a redelivery of the same batch; the anomaly service does not depend on it.
        string unit = (messages[firstGood].MessageId ?? Guid.NewGuid().ToString("N")) + "+" + good.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            await RunUnitAsync(unit, decoded, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < outcomes.Length; i++)
            {
                if (decoded[i] is not null)
                {
                    outcomes[i] = ConsumeOutcome.Ack;
                }
            }

            return outcomes;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _counters.FailedMessage();
            ModelRunnerLog.MessageFailed(_logger, e, _shard, unit, "batch of " + good.ToString(System.Globalization.CultureInfo.InvariantCulture) + " messages failed, handling them one at a time: " + e.Message);
        }

        for (var i = 0; i < outcomes.Length; i++)
        {
            if (decoded[i] is { } requests)
            {
                outcomes[i] = await HandleDecodedAsync(messages[i], requests, cancellationToken).ConfigureAwait(false);
            }
        }

        return outcomes;
    }

    private List<ModelRequest>? Decode(BusMessage message)
    {
        try
        {
            return ModelMessageCodec.DecodeRequests(message.Body.Span);
        }
        catch (FormatException e)
        {
            _counters.RejectedMessage();
            ModelRunnerLog.RejectedMessage(_logger, InputQueue, message.MessageId, e.Message);
            return null;
        }
    }

    private async ValueTask<ConsumeOutcome> HandleDecodedAsync(BusMessage message, List<ModelRequest> requests, CancellationToken cancellationToken)
    {
        try
        {
            await RunUnitAsync(message.MessageId, [requests], cancellationToken).ConfigureAwait(false);
            return ConsumeOutcome.Ack;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _counters.FailedMessage();
            ModelRunnerLog.MessageFailed(_logger, e, _shard, message.MessageId, e.Message);
            return ConsumeOutcome.Retry;
        }
    }

    /// <summary>
    /// Runs the requests of one or more messages as one unit of work; on failure the unit is abandoned and the exception
    /// rethrown. While the database stays unreachable (a transient <see cref="StorageException"/>), the unit is abandoned
    /// and run again in place after a pause (<see cref="OutagePause"/>) instead.
    /// </summary>
    private async Task RunUnitAsync(string? unitId, IReadOnlyList<List<ModelRequest>?> requestLists, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<ModelRequest> ordered = OrderByMetric(requestLists);
            for (int outage = 1; ; outage++)
            {
                try
                {
                    BeginUnit(unitId);
                    for (int i = 0; i < ordered.Count; i++)
                    {
                        ModelRequest request = ordered[i];
                        switch (request.Kind)
                        {
                            case ModelRequestKind.Row:
                                await HandleRowAsync(request, cancellationToken).ConfigureAwait(false);
                                break;
                            case ModelRequestKind.DefineModel:
                                await HandleDefineAsync(request, cancellationToken).ConfigureAwait(false);
                                break;
                            case ModelRequestKind.DeleteModel:
                                HandleDelete(request);
                                break;
                        }
                    }

                    await FlushAsync(cancellationToken).ConfigureAwait(false);
                    await EnforceBudgetAsync(null, cancellationToken).ConfigureAwait(false);
                    EndUnit();
                    return;
                }
                catch (StorageException e) when (e.IsTransient && !cancellationToken.IsCancellationRequested)
                {
                    // The database did not answer within the repository's retry budget (a restart, a long outage):
                    // not the messages' fault, so it must not count towards dead-lettering them (issue #7: a MariaDB
                    // outage of a few minutes dead-lettered rows), nor split a batch into one-at-a-time failures. The
                    // unit (one message or a whole batch) is abandoned exactly as for a retry and run again here, in
                    // place and in order, after a pause; a stop still ends the wait.
                    AbandonUnit();
                    TimeSpan pause = OutagePause(outage);
                    ModelRunnerLog.StorageUnavailable(_logger, _shard, unitId, outage, (long)pause.TotalMilliseconds, e.Message);
                    await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            AbandonUnit();
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The unit's requests with each metric's requests together, metrics in the order of their first request and each
    /// metric's requests in queue order. Models are independent, so only each metric's own order matters for scores;
    /// what the order buys is cache warmth. A model is 10–30 MB and one step touches a good part of it: stepped again
    /// at once it is still in the CPU caches, stepped after a thousand other models it is not, and a cold step costs
    /// several times a warm one. A batch of many messages (a backlog) holds many rows of each metric, which the
    /// storer's forwards spread over its messages, one message per storer batch. The returned list is a scratch field,
    /// valid until the next call (under the gate).
    /// </summary>
    private List<ModelRequest> OrderByMetric(IReadOnlyList<List<ModelRequest>?> requestLists)
    {
        // Each metric's requests form a chain through _orderNext (indices into _orderFlat), head and tail per metric,
        // so the grouping is two linear passes with no per-metric allocation.
        _orderFlat.Clear();
        _orderGroups.Clear();
        _ordered.Clear();
        int groups = 0;
        for (int l = 0; l < requestLists.Count; l++)
        {
            if (requestLists[l] is not { } requests)
            {
                continue;
            }

            for (int r = 0; r < requests.Count; r++)
            {
                int index = _orderFlat.Count;
                ModelRequest request = requests[r];
                _orderFlat.Add(request);
                EnsureOrderCapacity(ref _orderNext, index + 1);
                _orderNext[index] = -1;
                if (_orderGroups.TryGetValue(request.MetricUid, out int group))
                {
                    _orderNext[_orderTail[group]] = index;
                    _orderTail[group] = index;
                }
                else
                {
                    EnsureOrderCapacity(ref _orderHead, groups + 1);
                    EnsureOrderCapacity(ref _orderTail, groups + 1);
                    _orderGroups.Add(request.MetricUid, groups);
                    _orderHead[groups] = index;
                    _orderTail[groups] = index;
                    groups++;
                }
            }
        }

        for (int g = 0; g < groups; g++)
        {
            for (int index = _orderHead[g]; index >= 0; index = _orderNext[index])
            {
                _ordered.Add(_orderFlat[index]);
            }
        }

        return _ordered;
    }

    private static void EnsureOrderCapacity(ref int[] array, int length)
    {
        if (array.Length < length)
        {
            Array.Resize(ref array, Math.Max(length, array.Length * 2));
        }
    }

    /// <summary>The pause before handling a message again after the database was unreachable: 100 ms doubling to 5 s.</summary>
    internal static TimeSpan OutagePause(int outage) => TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(outage - 1, 10))));

    /// <summary>
    /// Start-up recovery: every metric given whose stored rows go beyond its checkpoint is caught up and its results
    /// published. Returns the number of rows scored.
    /// </summary>
    public async Task<long> RecoverAsync(IReadOnlyList<MetricRow> metrics, CancellationToken cancellationToken)
    {
        long before = _counters.Snapshot().RowsCaughtUp;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (MetricRow metric in metrics)
            {
                if (metric.LastRowid == 0 || (_store.TryPeekLastRowid(metric.Uid, out long checkpointed) && checkpointed >= metric.LastRowid))
                {
                    continue;
                }

                BeginUnit("recovery-" + metric.Uid + "-" + metric.LastRowid.ToString(System.Globalization.CultureInfo.InvariantCulture));
                try
                {
                    ModelSlot? slot = await GetHotSlotAsync(metric.Uid, cancellationToken).ConfigureAwait(false);
                    if (slot is not null)
                    {
                        await CatchUpAsync(slot, metric.LastRowid, cancellationToken).ConfigureAwait(false);
                    }

                    await FlushAsync(cancellationToken).ConfigureAwait(false);
                    await EnforceBudgetAsync(null, cancellationToken).ConfigureAwait(false);
                    EndUnit();
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    AbandonUnit();
                    ModelRunnerLog.RecoveryFailed(_logger, e, _shard, metric.Uid);
                }
                catch
                {
                    AbandonUnit();
                    throw;
                }
            }
        }
        finally
        {
            _gate.Release();
        }

        long rows = _counters.Snapshot().RowsCaughtUp - before;
        ModelRunnerLog.Recovered(_logger, _shard, metrics.Count, rows);
        return rows;
    }

    /// <summary>Checkpoints every hot model that scored rows since its last checkpoint; returns how many were written.</summary>
    public async Task<int> CheckpointAllAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int written = 0;
            for (LinkedListNode<ModelSlot>? node = _hot.First; node is not null; node = node.Next)
            {
                if (SaveIfChanged(node.Value))
                {
                    written++;
                }
            }

            return written;
        }
        finally
        {
            _gate.Release();
        }
    }

    // ------------------------------------------------------------------ requests

    private async Task HandleRowAsync(ModelRequest request, CancellationToken cancellationToken)
    {
        if (ModelShards.ShardOf(request.MetricUid, _shardCount) != _shard)
        {
            AddRowError(request.MetricUid, request.Rowid, request.Timestamp, request.Value, ModelErrorCodes.InvalidArgument,
                $"row {request.Rowid} of metric {request.MetricUid} reached shard {_shard}, but the metric belongs to shard {ModelShards.ShardOf(request.MetricUid, _shardCount)}");
            return;
        }

        ModelSlot? slot = await GetHotSlotAsync(request.MetricUid, cancellationToken).ConfigureAwait(false);
        if (slot is null)
        {
            if (_noModelLogged.Add(request.MetricUid))
            {
                ModelRunnerLog.NoModel(_logger, request.MetricUid, request.Rowid); // once per metric and message
            }

            AddRowError(request.MetricUid, request.Rowid, request.Timestamp, request.Value, ModelErrorCodes.NoSuchModel,
                $"metric {request.MetricUid} has no model (no checkpoint and no definition in metric.model_params)");
            return;
        }

        if (request.Rowid <= slot.LastRowid)
        {
            _counters.DuplicateRow();
            return;
        }

        if (request.Rowid > slot.LastRowid + 1)
        {
            await CatchUpAsync(slot, request.Rowid - 1, cancellationToken).ConfigureAwait(false);
            if (slot.LastRowid < request.Rowid - 1)
            {
                ModelRunnerLog.RowsMissing(_logger, slot.Uid, request.Rowid - 1 - slot.LastRowid, request.Rowid);
            }
        }

        Score(slot, request.Rowid, request.Timestamp, request.Value, caughtUp: false);
        await AfterScoreAsync(slot, cancellationToken).ConfigureAwait(false);
    }

    private async Task HandleDefineAsync(ModelRequest request, CancellationToken cancellationToken)
    {
        const string Method = "defineModel";
        string uid = request.MetricUid;
        ModelDefinition definition;
        try
        {
            definition = ModelDefinition.FromJson(request.Arguments ?? string.Empty);
        }
        catch (FormatException e)
        {
            AddCommandResult(request, Method, ModelErrorCodes.InvalidArgument, e.Message);
            return;
        }

        ModelSlot? slot = _slots.GetValueOrDefault(uid) ?? TryLoadCheckpoint(uid);
        if (slot is not null && slot.Definition != definition)
        {
            AddCommandResult(request, Method, ModelErrorCodes.ModelAlreadyExists,
                $"metric {uid} already has a model with a different definition ({slot.Definition.ToJson()})");
            return;
        }

        if (slot is null)
        {
            HtmModel model;
            try
            {
                model = TimedBuild(definition);
            }
            catch (ArgumentException e)
            {
                AddCommandResult(request, Method, ModelErrorCodes.InvalidArgument, e.Message);
                return;
            }

            slot = new ModelSlot(uid, definition);
            AddHot(slot, model, lastRowid: 0);
            _counters.ModelBuilt();
            SaveIfChanged(slot, force: true);
            Touch(slot);
            await EnforceBudgetAsync(slot, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await MakeHotAsync(slot, cancellationToken).ConfigureAwait(false);
        }

        Touch(slot);
        AddCommandResult(request, Method, ModelErrorCodes.Success, null);
        long lastStored;
        try
        {
            long t = Stopwatch.GetTimestamp();
            lastStored = (await _repository.GetMetricAsync(uid, cancellationToken).ConfigureAwait(false)).LastRowid;
            _counters.Timings.Add(ModelRunnerCounters.StageLookup, t);
        }
        catch (MetricNotFoundException)
        {
            lastStored = 0;
        }

        ModelRunnerLog.Defined(_logger, uid, definition.ToJson(), Math.Max(0, lastStored - slot.LastRowid));
        await CatchUpAsync(slot, lastStored, cancellationToken).ConfigureAwait(false);
    }

    private void HandleDelete(ModelRequest request)
    {
        if (_slots.Remove(request.MetricUid, out ModelSlot? slot) && slot.Node is not null)
        {
            RemoveHot(slot);
        }

        _store.Delete(request.MetricUid);
        ModelRunnerLog.Deleted(_logger, request.MetricUid);
        AddCommandResult(request, "deleteModel", ModelErrorCodes.Success, null);
    }

    // ------------------------------------------------------------------ scoring

    private async Task CatchUpAsync(ModelSlot slot, long upTo, CancellationToken cancellationToken)
    {
        while (slot.LastRowid < upTo)
        {
            var query = new MetricDataQuery
            {
                Uid = slot.Uid,
                StartRowid = slot.LastRowid + 1,
                StopRowid = upTo,
                Limit = _options.ChunkSize,
                Fields = MetricDataFields.Timestamp | MetricDataFields.MetricValue,
            };
            long t = Stopwatch.GetTimestamp();
            IReadOnlyList<MetricDataRow> rows = await _repository.GetMetricDataAsync(query, cancellationToken).ConfigureAwait(false);
            _counters.Timings.Add(ModelRunnerCounters.StageRead, t);
            for (int i = 0; i < rows.Count; i++)
            {
                MetricDataRow row = rows[i];
                Score(slot, row.Rowid, row.Timestamp, row.MetricValue, caughtUp: true);
                await AfterScoreAsync(slot, cancellationToken).ConfigureAwait(false);
            }

            if (rows.Count < _options.ChunkSize)
            {
                break;
            }
        }
    }

    private void Score(ModelSlot slot, long rowid, DateTime timestamp, double value, bool caughtUp)
    {
        HtmModel model = slot.Model!;
        if (double.IsFinite(value))
        {
            long t = Stopwatch.GetTimestamp();
            double raw = model.Step(timestamp, value);
            _counters.Timings.Add(ModelRunnerCounters.StageScore, t);
            _pending.Add(ModelResult.Scored(slot.Uid, rowid, timestamp, value, raw));
            _counters.RowScored(caughtUp);
        }
        else
        {
            AddRowError(slot.Uid, rowid, timestamp, value, ModelErrorCodes.Error, $"row {rowid} of metric {slot.Uid}: value {value} is not a finite number");
        }

        slot.LastRowid = rowid;
        slot.RowsSinceCheckpoint++;
        slot.Unpublished = true;
    }

    private async ValueTask AfterScoreAsync(ModelSlot slot, CancellationToken cancellationToken)
    {
        if (_pending.Count >= _options.ChunkSize)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        if (slot.RowsSinceCheckpoint >= _options.CheckpointEveryRows)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            SaveIfChanged(slot);
        }

        if ((slot.RowsSinceCheckpoint & 63) == 0)
        {
            UpdateEstimate(slot);
        }
    }

    private void AddRowError(string uid, long rowid, DateTime timestamp, double value, int status, string error)
    {
        _counters.RowError();
        _pending.Add(new ModelResult(ModelResultKind.Inference, uid, rowid, timestamp, value, 0, status, error, null, null));
    }

    private void AddCommandResult(ModelRequest request, string method, int status, string? error)
    {
        _counters.Command(status != ModelErrorCodes.Success);
        if (error is not null)
        {
            ModelRunnerLog.CommandFailed(_logger, request.MetricUid, method, status, error);
        }

        _pending.Add(ModelResult.ForCommand(request.MetricUid, request.CommandId ?? string.Empty, method, status, error));
    }

    // ------------------------------------------------------------------ units of work and publishing

    private void BeginUnit(string? messageId)
    {
        _messageId = messageId ?? Guid.NewGuid().ToString("N");
        _flushIndex = 0;
        _noModelLogged.Clear();
    }

    private void EndUnit()
    {
        foreach (ModelSlot slot in _touched)
        {
            slot.Touched = false;
            if (slot.Model is not null)
            {
                UpdateEstimate(slot);
            }
        }

        _touched.Clear();
    }

    /// <summary>
    /// A unit failed: its unpublished results are dropped, and so is the memory state of every model it touched
    /// (ahead of what was published); those models reload from their checkpoints and score the rows again.
    /// </summary>
    private void AbandonUnit()
    {
        _pending.Clear();
        foreach (ModelSlot slot in _touched)
        {
            slot.Touched = false;
            slot.Unpublished = false;
            if (slot.Node is not null)
            {
                RemoveHot(slot);
            }

            if (!slot.HasCheckpoint)
            {
                // Nothing durable to reload from: forget the model; its definition comes back from the command's
                // redelivery or from metric.model_params.
                _slots.Remove(slot.Uid);
            }
        }

        _touched.Clear();
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        long t = Stopwatch.GetTimestamp();
        byte[] body = ModelMessageCodec.EncodeResults(CollectionsMarshal.AsSpan(_pending));
        string id = _messageId + "." + _flushIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _flushIndex++;
        OutgoingMessage[] batch = [new OutgoingMessage(body, id, null, ModelMessageCodec.ResultsContentType)];
        await _bus.PublishToQueueAsync(_options.ResultsQueue, batch, cancellationToken).ConfigureAwait(false);
        _counters.ResultMessage();
        _counters.Timings.Add(ModelRunnerCounters.StagePublish, t);
        _pending.Clear();
        foreach (ModelSlot slot in _touched)
        {
            slot.Unpublished = false;
        }
    }

    // ------------------------------------------------------------------ hot and cold models

    /// <summary>The metric's model, hot; loaded from its checkpoint or built from the definition in the database. Null when it has none.</summary>
    private async ValueTask<ModelSlot?> GetHotSlotAsync(string uid, CancellationToken cancellationToken)
    {
        if (_slots.TryGetValue(uid, out ModelSlot? slot))
        {
            await MakeHotAsync(slot, cancellationToken).ConfigureAwait(false);
            Touch(slot);
            return slot;
        }

        slot = TryLoadCheckpoint(uid);
        if (slot is null)
        {
            MetricRow metric;
            try
            {
                metric = await _repository.GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
            }
            catch (MetricNotFoundException)
            {
                return null;
            }

            if (metric.Status is not (MetricStatus.Active or MetricStatus.CreatePending))
            {
                return null;
            }

            ModelDefinition? definition;
            HtmModel model;
            try
            {
                definition = ModelFactory.DefinitionFromModelParams(metric.ModelParams);
                if (definition is null)
                {
                    return null;
                }

                model = TimedBuild(definition);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                ModelRunnerLog.CommandFailed(_logger, uid, "build from metric.model_params", ModelErrorCodes.InvalidArgument, e.Message);
                return null;
            }

            slot = new ModelSlot(uid, definition);
            AddHot(slot, model, lastRowid: 0);
            _counters.ModelBuilt();
            SaveIfChanged(slot, force: true);
        }

        Touch(slot);
        await EnforceBudgetAsync(slot, cancellationToken).ConfigureAwait(false);
        return slot;
    }

    /// <summary>Reads an unknown metric's checkpoint into a new hot slot; null when there is none or it is unusable.</summary>
    private ModelSlot? TryLoadCheckpoint(string uid)
    {
        if (TimedLoad(uid, out ModelCheckpoint? checkpoint, out string? problem))
        {
            var slot = new ModelSlot(uid, checkpoint!.Definition) { CheckpointedRowid = checkpoint.LastRowid };
            AddHot(slot, checkpoint.Model, checkpoint.LastRowid);
            _counters.ModelLoaded();
            return slot;
        }

        if (problem is not null)
        {
            _counters.CorruptCheckpoint();
            ModelRunnerLog.CorruptCheckpoint(_logger, _store.PathOf(uid), uid, problem);
        }

        return null;
    }

    /// <summary>Makes a known model hot: reloads its checkpoint, or rebuilds it from its definition when the checkpoint is gone or unusable.</summary>
    private async Task MakeHotAsync(ModelSlot slot, CancellationToken cancellationToken)
    {
        if (slot.Model is not null)
        {
            _hot.Remove(slot.Node!);
            _hot.AddFirst(slot.Node!);
            return;
        }

        if (TimedLoad(slot.Uid, out ModelCheckpoint? checkpoint, out string? problem) && checkpoint!.Definition == slot.Definition)
        {
            AddHot(slot, checkpoint.Model, checkpoint.LastRowid);
            slot.CheckpointedRowid = checkpoint.LastRowid;
            _counters.ModelLoaded();
        }
        else
        {
            if (problem is not null)
            {
                _counters.CorruptCheckpoint();
                ModelRunnerLog.CorruptCheckpoint(_logger, _store.PathOf(slot.Uid), slot.Uid, problem);
            }

            // Rebuilt from scratch: the next row (or recovery) replays everything from the database.
            AddHot(slot, TimedBuild(slot.Definition), lastRowid: 0);
            slot.CheckpointedRowid = -1;
            _counters.ModelBuilt();
            SaveIfChanged(slot, force: true);
        }

        Touch(slot);
        await EnforceBudgetAsync(slot, cancellationToken).ConfigureAwait(false);
    }

    private bool TimedLoad(string uid, out ModelCheckpoint? checkpoint, out string? problem)
    {
        long t = Stopwatch.GetTimestamp();
        bool loaded = _store.TryLoad(uid, out checkpoint, out problem);
        _counters.Timings.Add(ModelRunnerCounters.StageLoad, t);
        return loaded;
    }

    private HtmModel TimedBuild(ModelDefinition definition)
    {
        long t = Stopwatch.GetTimestamp();
        HtmModel model = ModelFactory.Build(definition);
        _counters.Timings.Add(ModelRunnerCounters.StageBuild, t);
        return model;
    }

    private void AddHot(ModelSlot slot, HtmModel model, long lastRowid)
    {
        slot.Model = model;
        slot.LastRowid = lastRowid;
        slot.RowsSinceCheckpoint = 0;
        slot.EstimatedBytes = ModelFactory.EstimateBytes(model);
        slot.Node = _hot.AddFirst(slot);
        Interlocked.Add(ref _hotBytes, slot.EstimatedBytes);
        _slots[slot.Uid] = slot;
    }

    private void RemoveHot(ModelSlot slot)
    {
        _hot.Remove(slot.Node!);
        slot.Node = null;
        slot.Model = null;
        Interlocked.Add(ref _hotBytes, -slot.EstimatedBytes);
        slot.EstimatedBytes = 0;
    }

    private void UpdateEstimate(ModelSlot slot)
    {
        long estimate = ModelFactory.EstimateBytes(slot.Model!);
        Interlocked.Add(ref _hotBytes, estimate - slot.EstimatedBytes);
        slot.EstimatedBytes = estimate;
    }

    private void Touch(ModelSlot slot)
    {
        if (!slot.Touched)
        {
            slot.Touched = true;
            _touched.Add(slot);
        }
    }

    /// <summary>Checkpoints and drops least recently used models until the shard's hot models fit its budget; <paramref name="keep"/> stays.</summary>
    private async Task EnforceBudgetAsync(ModelSlot? keep, CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _hotBytes) > _budgetBytes && _hot.Last is { } node && node.Value != keep)
        {
            ModelSlot victim = node.Value;
            if (victim.Unpublished)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            SaveIfChanged(victim);
            RemoveHot(victim);
            _counters.Evicted();
        }
    }

    private bool SaveIfChanged(ModelSlot slot, bool force = false)
    {
        if (!force && slot.CheckpointedRowid == slot.LastRowid)
        {
            return false;
        }

        long t = Stopwatch.GetTimestamp();
        if (slot.LastRowid == 0)
        {
            // Nothing scored yet: the model is its definition's fresh build.
            _store.SaveDefinition(slot.Uid, slot.Definition);
        }
        else
        {
            _store.Save(slot.Uid, slot.LastRowid, slot.Definition, slot.Model!);
        }

        _counters.Timings.Add(ModelRunnerCounters.StageCheckpoint, t);
        slot.CheckpointedRowid = slot.LastRowid;
        slot.RowsSinceCheckpoint = 0;
        _counters.CheckpointWritten();
        return true;
    }

    /// <summary>A model this shard knows: hot (<see cref="Model"/> set, in the LRU list) or cold (in its checkpoint).</summary>
    private sealed class ModelSlot(string uid, ModelDefinition definition)
    {
        public string Uid { get; } = uid;

        public ModelDefinition Definition { get; } = definition;

        public HtmModel? Model { get; set; }

        public LinkedListNode<ModelSlot>? Node { get; set; }

        /// <summary>The last row scored (in memory).</summary>
        public long LastRowid { get; set; }

        /// <summary>The last row in the checkpoint file; -1 when there is no file.</summary>
        public long CheckpointedRowid { get; set; } = -1;

        public bool HasCheckpoint => CheckpointedRowid >= 0;

        public long RowsSinceCheckpoint { get; set; }

        public long EstimatedBytes { get; set; }

        /// <summary>Scored rows whose results are buffered, not yet confirmed by the bus.</summary>
        public bool Unpublished { get; set; }

        /// <summary>Used by the current unit of work.</summary>
        public bool Touched { get; set; }
    }
}
