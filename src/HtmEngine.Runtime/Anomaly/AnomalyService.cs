using System.Globalization;
using System.Text.Json;
using HtmEngine.Bus;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Runtime.Anomaly;

/// <summary>
/// The anomaly service (htmengine-spec §8; docs/engine-design.md): consumes model results from
/// <c>[interface_bus] results_queue</c>, turns raw scores into likelihood-based <c>anomaly_score</c>s and
/// <c>display_value</c>s, writes them to <c>metric_data</c> together with the likelihood state in
/// <c>metric.model_params</c> (one transaction per metric), publishes the seed's messages to the results exchange and
/// acknowledges a result message only after both.
/// </summary>
/// <remarks>
/// <para>Rows are fed into <see cref="EngineAnomalyLikelihood"/> one at a time in rowid order, with the metric's
/// earlier scored rows as history, exactly as <c>htmengine detect --likelihood engine</c> does; so the scores do not
/// depend on how the runners batched their results (the original's batch-size-dependent refresh interval, and its
/// re-feeding of redelivered rows, spec §12.14, are gone).</para>
/// <para>The persisted state names the newest row fed; results at or below it are not fed again but published again
/// with their stored scores (a crash between commit and publish loses nothing). Results that start after a gap of
/// stored, unfed rows wait (the message is retried) for the missing ones, which a requeue may have put behind them.</para>
/// </remarks>
public sealed class AnomalyService : IEngineService
{
    private readonly IMetricRepository _repository;
    private readonly IMessageBus _bus;
    private readonly AnomalyServiceOptions _options;
    private readonly EngineAnomalyLikelihood _likelihood;
    private readonly ILogger _logger;
    private readonly HistoryCache _histories;

    // Histories of the current set's cold metrics, read together (PrefetchHistoriesAsync); null outside a set's scoring.
    private Dictionary<string, ScoredRowsHistory>? _prefetched;
    private IBusSubscription? _subscription;

    /// <summary>Creates the service.</summary>
    /// <param name="repository">The repository.</param>
    /// <param name="bus">The bus.</param>
    /// <param name="options">Queue, exchange and likelihood settings.</param>
    /// <param name="loggerFactory">Logging, or null for none.</param>
    public AnomalyService(IMetricRepository repository, IMessageBus bus, AnomalyServiceOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.ResultsQueue, nameof(options));
        ArgumentException.ThrowIfNullOrEmpty(options.ResultsExchange, nameof(options));
        _repository = repository;
        _bus = bus;
        _options = options;
        _likelihood = new EngineAnomalyLikelihood(options.Likelihood);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("HtmEngine.Runtime.Anomaly");
        _histories = new HistoryCache(Math.Max(1, options.HistoryCacheMetrics));
    }

    /// <inheritdoc/>
    public string Name => "anomaly";

    /// <summary>What the service did so far.</summary>
    public AnomalyServiceCounters Counters { get; } = new();

    /// <summary>
    /// Where the service's time goes: reading the metric row, loading likelihood histories, the likelihood and display
    /// values, the commits of scores and state, and the publishes to the results exchange (confirmed).
    /// </summary>
    public StageTimings Timings { get; } = new("metric", "history", "likelihood", "commit", "publish");

    private const int StageMetric = 0;
    private const int StageHistory = 1;
    private const int StageLikelihood = 2;
    private const int StageCommit = 3;
    private const int StagePublish = 4;

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _bus.DeclareQueueAsync(_options.ResultsQueue, cancellationToken).ConfigureAwait(false);
        await _bus.DeclareFanoutExchangeAsync(_options.ResultsExchange, cancellationToken).ConfigureAwait(false);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.BatchMessages, 1, nameof(_options.BatchMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.BatchBytes, 1, nameof(_options.BatchBytes));
        _subscription = await _bus.ConsumeBatchAsync(
            _options.ResultsQueue,
            HandleBatchAsync,
            new BatchConsumerOptions(
                Math.Min(_options.BatchMessages, ushort.MaxValue / 2),
                _options.BatchBytes,
                Math.Min(ushort.MaxValue, Math.Max(_options.Prefetch, 2 * Math.Min(_options.BatchMessages, ushort.MaxValue / 2))),
                _options.MaxFailedAttempts),
            cancellationToken).ConfigureAwait(false);
        var l = _options.Likelihood;
        AnomalyLog.Started(_logger, _options.ResultsQueue, _options.ResultsExchange, l.MinSampleSize, l.RefreshRate, l.SampleSize);
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _subscription, null) is { } subscription)
        {
            // Disposal waits for the message in hand and returns the unsettled ones to the queue.
            await subscription.DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        AnomalyLog.Stopped(_logger);
    }

    /// <summary>Processes one result message (internal for tests).</summary>
    /// <remarks>
    /// A database that stays unreachable longer than the repository's retry budget (a restart, a long outage) is not
    /// the message's fault: the message is processed again here, in place and in order, after a pause, instead of
    /// being handed back as a failure, which after <see cref="AnomalyServiceOptions.MaxFailedAttempts"/> outages would
    /// dead-letter it and leave its rows without anomaly scores (issue #7). Nothing of a failed pass is kept (the
    /// caches it touched are dropped, as for a redelivery); a stop still ends the wait.
    /// </remarks>
    internal async ValueTask<ConsumeOutcome> HandleAsync(BusMessage message, CancellationToken cancellationToken)
    {
        var results = Decode(message);
        return results is null ? ConsumeOutcome.DeadLetter : await ProcessResultsInPlaceAsync(results, message.FailedAttempts, 1, message.MessageId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Processes a batch of result messages (the bus's handler; internal for tests): the results of all of them as
    /// one set — each metric's results together in rowid order, one metric read, one commit and one publish — and
    /// then every message acknowledged. An undecodable message is dead-lettered alone. When the set asks for a retry
    /// or fails, the messages are processed again one at a time (what was committed is republished from the
    /// database, never scored twice), so a message that has to wait or keeps failing costs only itself. A database
    /// outage is not a failure: the whole set (or, in the fallback, the one message) is processed again in place after
    /// a pause, as <see cref="HandleAsync"/> does (issue #7).
    /// </summary>
    internal async ValueTask<IReadOnlyList<ConsumeOutcome>> HandleBatchAsync(IReadOnlyList<BusMessage> messages, CancellationToken cancellationToken)
    {
        var outcomes = new ConsumeOutcome[messages.Count];
        var decoded = new List<ModelResult>?[messages.Count];
        List<ModelResult>? all = null;
        int good = 0, failedAttempts = 0;
        string? firstId = null;
        for (int i = 0; i < messages.Count; i++)
        {
            decoded[i] = Decode(messages[i]);
            if (decoded[i] is not { } results)
            {
                outcomes[i] = ConsumeOutcome.DeadLetter;
                continue;
            }

            good++;
            firstId ??= messages[i].MessageId;
            failedAttempts = Math.Max(failedAttempts, messages[i].FailedAttempts);
            (all ??= new List<ModelResult>(results.Count * messages.Count)).AddRange(results);
        }

        if (all is null)
        {
            return outcomes;
        }

        if (good == 1)
        {
            for (int i = 0; i < outcomes.Length; i++)
            {
                if (decoded[i] is not null)
                {
                    outcomes[i] = await ProcessResultsInPlaceAsync(decoded[i]!, messages[i].FailedAttempts, 1, messages[i].MessageId, cancellationToken).ConfigureAwait(false);
                }
            }

            return outcomes;
        }

        ConsumeOutcome together;
        try
        {
            together = await ProcessResultsInPlaceAsync(all, failedAttempts, good, firstId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            AnomalyLog.BatchFailed(_logger, e, good, e.Message);
            together = ConsumeOutcome.Retry;
        }

        for (int i = 0; i < outcomes.Length; i++)
        {
            if (decoded[i] is null)
            {
                continue;
            }

            if (together == ConsumeOutcome.Ack)
            {
                outcomes[i] = ConsumeOutcome.Ack;
                continue;
            }

            try
            {
                outcomes[i] = await ProcessResultsInPlaceAsync(decoded[i]!, messages[i].FailedAttempts, 1, messages[i].MessageId, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                AnomalyLog.MessageFailed(_logger, e, messages[i].MessageId, e.Message);
                outcomes[i] = ConsumeOutcome.Retry;
            }
        }

        return outcomes;
    }

    /// <summary>
    /// <see cref="ProcessResultsAsync"/>, processed again in place after a pause (100 ms doubling to 5 s) for as long
    /// as the database stays unreachable beyond the repository's retry budget (a transient <see cref="StorageException"/>):
    /// not the messages' fault, so not a failure that would count towards dead-lettering them (issue #7). A failed pass
    /// keeps nothing (<see cref="ProcessResultsAsync"/> drops the histories it touched, as for a retry); a stop ends the wait.
    /// </summary>
    private async ValueTask<ConsumeOutcome> ProcessResultsInPlaceAsync(List<ModelResult> results, int failedAttempts, int messages, string? messageId, CancellationToken cancellationToken)
    {
        for (int outage = 1; ; outage++)
        {
            try
            {
                return await ProcessResultsAsync(results, failedAttempts, cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException e) when (e.IsTransient && !cancellationToken.IsCancellationRequested)
            {
                var pause = TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(outage - 1, 10))));
                if (messages == 1)
                {
                    AnomalyLog.StorageUnavailable(_logger, messageId, outage, (long)pause.TotalMilliseconds, e.Message);
                }
                else
                {
                    AnomalyLog.BatchStorageUnavailable(_logger, messages, messageId, outage, (long)pause.TotalMilliseconds, e.Message);
                }

                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private List<ModelResult>? Decode(BusMessage message)
    {
        try
        {
            return ModelMessageCodec.DecodeResults(message.Body.Span);
        }
        catch (FormatException e)
        {
            Counters.AddRejectedMessage();
            AnomalyLog.MessageRejected(_logger, message.MessageId, message.Queue, e.Message);
            return null;
        }
    }

    /// <summary>Scores, commits and publishes a set of results (one message's, or a batch's); Retry asks for them again.</summary>
    private async ValueTask<ConsumeOutcome> ProcessResultsAsync(List<ModelResult> results, int failedAttempts, CancellationToken cancellationToken)
    {
        var outgoing = new List<OutgoingMessage>();
        Dictionary<string, List<ModelResult>>? groups = null;
        List<string>? order = null;
        foreach (var result in results)
        {
            if (result.Kind == ModelResultKind.CommandResult)
            {
                await ProcessCommandAsync(result, outgoing, cancellationToken).ConfigureAwait(false);
                continue;
            }

            groups ??= new Dictionary<string, List<ModelResult>>(StringComparer.Ordinal);
            if (!groups.TryGetValue(result.MetricUid, out var group))
            {
                group = [];
                groups.Add(result.MetricUid, group);
                (order ??= []).Add(result.MetricUid);
            }

            group.Add(result);
        }

        if (order is not null)
        {
            // The metrics' new scores are committed together, in one transaction (one commit per message instead of
            // one per metric); the likelihood of each metric is computed first, exactly as before.
            var batch = new List<PendingCommit>(order.Count);
            try
            {
                // The metrics' rows in one query (one round trip per message instead of one per metric).
                long t = System.Diagnostics.Stopwatch.GetTimestamp();
                var known = new Dictionary<string, MetricRow>(order.Count, StringComparer.Ordinal);
                foreach (var row in await _repository.GetMetricsAsync(order, cancellationToken).ConfigureAwait(false))
                {
                    known[row.Uid] = row;
                }

                Timings.Add(StageMetric, t);
                try
                {
                    await PrefetchHistoriesAsync(order, known, cancellationToken).ConfigureAwait(false);
                    foreach (var uid in order)
                    {
                        var group = groups![uid];
                        group.Sort(static (a, b) => a.Rowid.CompareTo(b.Rowid));
                        bool done;
                        try
                        {
                            done = await ProcessInferencesAsync(uid, group, failedAttempts, outgoing, batch, known, cancellationToken).ConfigureAwait(false);
                        }
                        catch
                        {
                            // Whatever was fed into the cached history did not reach the database.
                            _histories.Remove(uid);
                            throw;
                        }

                        if (!done)
                        {
                            ForgetHistories(batch);
                            return ConsumeOutcome.Retry;
                        }
                    }
                }
                finally
                {
                    // Read before this set's commit: never valid after it (nor for the conflict path's re-reads).
                    _prefetched = null;
                }

                if (batch.Count > 0 && !await CommitBatchAsync(batch, failedAttempts, outgoing, cancellationToken).ConfigureAwait(false))
                {
                    return ConsumeOutcome.Retry;
                }
            }
            catch
            {
                ForgetHistories(batch);
                throw;
            }
        }

        if (outgoing.Count > 0)
        {
            long t = System.Diagnostics.Stopwatch.GetTimestamp();
            await _bus.PublishToExchangeAsync(_options.ResultsExchange, outgoing, cancellationToken).ConfigureAwait(false);
            Timings.Add(StagePublish, t);
            Counters.AddPublished(outgoing.Count);
        }

        return ConsumeOutcome.Ack;
    }

    // ---------------------------------------------------------------- inference results

    /// <summary>
    /// Scores, stores and prepares the publication of one metric's results; false asks for a retry. With
    /// <paramref name="batch"/>, new scores are not committed here but added to it (see <see cref="CommitBatchAsync"/>).
    /// </summary>
    private async Task<bool> ProcessInferencesAsync(string uid, List<ModelResult> group, int failedAttempts, List<OutgoingMessage> outgoing, List<PendingCommit>? batch, Dictionary<string, MetricRow>? known, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            MetricRow metric;
            if (attempt == 1 && known is not null)
            {
                if (!known.TryGetValue(uid, out metric!))
                {
                    Drop(uid, group.Count, "metric not found (deleted?)");
                    return true;
                }
            }
            else
            {
                try
                {
                    long t = System.Diagnostics.Stopwatch.GetTimestamp();
                    metric = await _repository.GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
                    Timings.Add(StageMetric, t);
                }
                catch (MetricNotFoundException)
                {
                    Drop(uid, group.Count, "metric not found (deleted?)");
                    return true;
                }
            }

            if (!AcceptsResults(metric.Status))
            {
                Drop(uid, group.Count, "metric is " + StatusName(metric.Status) + ", not ACTIVE (unmonitored?)");
                return true;
            }

            foreach (var r in group)
            {
                if (r.Status != 0)
                {
                    await FailMetricAsync(metric, r, cancellationToken).ConfigureAwait(false);
                    Drop(uid, group.Count, "the model reported an error");
                    return true;
                }
            }

            long covered;
            EngineLikelihoodState? state;
            try
            {
                (covered, state) = LikelihoodEnvelope.Read(metric.ModelParams);
            }
            catch (FormatException e)
            {
                Drop(uid, group.Count, e.Message);
                return true;
            }

            // Split into rows fed before (published again from the database) and new ones, without duplicates.
            var fresh = new List<ModelResult>(group.Count);
            long republishFrom = 0, republishTo = 0;
            long last = long.MinValue;
            foreach (var r in group)
            {
                if (r.Rowid == last)
                {
                    continue;
                }

                last = r.Rowid;
                if (r.Rowid <= covered)
                {
                    republishFrom = republishFrom == 0 ? r.Rowid : republishFrom;
                    republishTo = r.Rowid;
                }
                else
                {
                    fresh.Add(r);
                }
            }

            if (fresh.Count > 0 && fresh[0].Rowid > covered + 1
                && !await AcceptGapAsync(uid, covered, fresh[0].Rowid, failedAttempts, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            var rows = new List<ResultsRow>(group.Count);
            if (republishFrom != 0)
            {
                await AddStoredRowsAsync(uid, group, republishFrom, republishTo, rows, cancellationToken).ConfigureAwait(false);
            }

            if (fresh.Count > 0 && batch is not null)
            {
                var pending = await ScoreAsync(uid, covered, state, fresh, rows, cancellationToken).ConfigureAwait(false);
                batch.Add(pending with { Metric = metric, Group = group, Rows = rows });
                return true;
            }

            if (fresh.Count > 0)
            {
                var outcome = await ScoreAndCommitAsync(uid, covered, state, fresh, rows, cancellationToken).ConfigureAwait(false);
                if (outcome == CommitOutcome.NotActive)
                {
                    Drop(uid, fresh.Count, "metric left ACTIVE while its results were processed");
                    fresh.Clear();
                }
                else if (outcome == CommitOutcome.Conflict)
                {
                    AnomalyLog.Conflict(_logger, uid);
                    if (attempt >= 5)
                    {
                        return false;
                    }

                    continue;
                }
            }

            if (rows.Count > 0)
            {
                outgoing.Add(InferenceMessage(metric, rows));
            }

            Counters.AddScored(fresh.Count);
            return true;
        }
    }

    private enum CommitOutcome
    {
        Committed,
        NotActive,
        Conflict,
    }

    /// <summary>One metric's scored results waiting for the message's batch commit.</summary>
    private sealed record PendingCommit(string Uid, long Covered, ScoreUpdate[] Updates, string Envelope, int FirstNew, int FreshCount)
    {
        public MetricRow Metric { get; init; } = null!;

        public List<ModelResult> Group { get; init; } = null!;

        public List<ResultsRow> Rows { get; init; } = null!;

        /// <summary>Set by the commit's callback under the row lock.</summary>
        public CommitOutcome Outcome { get; set; }
    }

    /// <summary>Feeds the fresh results into the likelihood (history loaded or cached) and appends their rows to <paramref name="rows"/>.</summary>
    private async Task<PendingCommit> ScoreAsync(string uid, long covered, EngineLikelihoodState? state, List<ModelResult> fresh, List<ResultsRow> rows, CancellationToken cancellationToken)
    {
        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        var history = await GetHistoryAsync(uid, covered, cancellationToken).ConfigureAwait(false);
        t = Timings.Add(StageHistory, t);
        var updates = new ScoreUpdate[fresh.Count];
        int firstNew = rows.Count;
        ScoredRow[] one = new ScoredRow[1];
        double[] score = new double[1];
        for (int i = 0; i < fresh.Count; i++)
        {
            var r = fresh[i];
            one[0] = new ScoredRow(r.Rowid, r.Timestamp, r.Value, r.RawScore);
            state = _likelihood.UpdateModelAnomalyScores(state, one, score, history);
            history.Append(one[0]);
            double anomaly = score[0];
            int display = (int)Math.Round(DisplayValue.Compute(anomaly), MidpointRounding.AwayFromZero);
            updates[i] = new ScoreUpdate(r.Rowid, r.RawScore, anomaly, display);
            rows.Add(new ResultsRow(r.Rowid, EpochSeconds(r.Timestamp), r.Value, r.RawScore, anomaly, null));
        }

        string envelope = LikelihoodEnvelope.Write(fresh[^1].Rowid, state);
        Timings.Add(StageLikelihood, t);
        return new PendingCommit(uid, covered, updates, envelope, firstNew, fresh.Count);
    }

    /// <summary>
    /// Commits the scores of every metric of <paramref name="batch"/> in one transaction and adds their messages to
    /// <paramref name="outgoing"/>. A metric whose likelihood state changed meanwhile goes through the one-metric path
    /// again (re-read, re-scored); false asks for a retry of the message.
    /// </summary>
    private async Task<bool> CommitBatchAsync(List<PendingCommit> batch, int failedAttempts, List<OutgoingMessage> outgoing, CancellationToken cancellationToken)
    {
        var commits = new AnomalyCommit[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var pending = batch[i];
            commits[i] = new AnomalyCommit(pending.Uid, pending.Updates, locked => Decide(locked, pending));
        }

        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcomes = await _repository.CommitAnomalyScoresBatchAsync(commits, cancellationToken).ConfigureAwait(false);
        Timings.Add(StageCommit, t);
        for (int i = 0; i < batch.Count; i++)
        {
            var pending = batch[i];
            if (outcomes[i] == AnomalyCommitOutcome.Committed)
            {
                outgoing.Add(InferenceMessage(pending.Metric, pending.Rows));
                Counters.AddScored(pending.FreshCount);
                continue;
            }

            _histories.Remove(pending.Uid);
            if (outcomes[i] == AnomalyCommitOutcome.Abandoned && pending.Outcome == CommitOutcome.Conflict)
            {
                AnomalyLog.Conflict(_logger, pending.Uid);
                if (!await ProcessInferencesAsync(pending.Uid, pending.Group, failedAttempts, outgoing, null, null, cancellationToken).ConfigureAwait(false))
                {
                    ForgetHistories(batch);
                    return false;
                }

                continue;
            }

            // Deleted, or no longer ACTIVE: its new rows are dropped, the republished ones still go out.
            Drop(pending.Uid, pending.FreshCount, "metric left ACTIVE while its results were processed");
            pending.Rows.RemoveRange(pending.FirstNew, pending.Rows.Count - pending.FirstNew);
            if (pending.Rows.Count > 0)
            {
                outgoing.Add(InferenceMessage(pending.Metric, pending.Rows));
            }
        }

        return true;
    }

    /// <summary>The batch commit's decision for one metric under its row lock (see <see cref="ScoreAndCommitAsync"/>).</summary>
    private static string? Decide(MetricRow locked, PendingCommit pending)
    {
        if (!AcceptsResults(locked.Status))
        {
            pending.Outcome = CommitOutcome.NotActive;
            return null;
        }

        long now;
        try
        {
            now = LikelihoodEnvelope.ReadRowid(locked.ModelParams);
        }
        catch (FormatException)
        {
            now = -1;
        }

        if (now != pending.Covered)
        {
            pending.Outcome = CommitOutcome.Conflict;
            return null;
        }

        pending.Outcome = CommitOutcome.Committed;
        return LikelihoodEnvelope.Merge(locked.ModelParams, pending.Envelope);
    }

    private void ForgetHistories(List<PendingCommit> batch)
    {
        foreach (var pending in batch)
        {
            _histories.Remove(pending.Uid);
        }
    }

    private async Task<CommitOutcome> ScoreAndCommitAsync(string uid, long covered, EngineLikelihoodState? state, List<ModelResult> fresh, List<ResultsRow> rows, CancellationToken cancellationToken)
    {
        var scored = await ScoreAsync(uid, covered, state, fresh, rows, cancellationToken).ConfigureAwait(false);
        var updates = scored.Updates;
        var envelope = scored.Envelope;
        int firstNew = scored.FirstNew;
        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = CommitOutcome.Committed;
        bool committed;
        try
        {
            committed = await _repository.CommitAnomalyScoresAsync(
                uid,
                updates,
                locked =>
                {
                    if (!AcceptsResults(locked.Status))
                    {
                        outcome = CommitOutcome.NotActive;
                        return null;
                    }

                    long now;
                    try
                    {
                        now = LikelihoodEnvelope.ReadRowid(locked.ModelParams);
                    }
                    catch (FormatException)
                    {
                        now = -1;
                    }

                    if (now != covered)
                    {
                        outcome = CommitOutcome.Conflict;
                        return null;
                    }

                    outcome = CommitOutcome.Committed;
                    return LikelihoodEnvelope.Merge(locked.ModelParams, envelope);
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException)
        {
            committed = false;
            outcome = CommitOutcome.NotActive;
        }

        Timings.Add(StageCommit, t);

        if (!committed)
        {
            _histories.Remove(uid);
            rows.RemoveRange(firstNew, rows.Count - firstNew);
        }

        return committed ? CommitOutcome.Committed : outcome;
    }

    /// <summary>
    /// Reads the histories of the set's metrics that have none cached (new metrics, or after a restart or eviction) with
    /// one <see cref="IMetricRepository.GetScoredHistoriesAsync"/> instead of two queries per metric in
    /// <see cref="GetHistoryAsync"/>: the first results of 1,000 new metrics cost 2,000 round trips before. Nothing
    /// writes scores between this read and the set's commit (the handler is the only writer and runs one set at a
    /// time), so what it read is what <see cref="GetHistoryAsync"/> would read; each entry is used once. At most
    /// <see cref="AnomalyServiceOptions.HistoryCacheMetrics"/> metrics are read ahead, so a restart under thousands of
    /// metrics with long histories holds no more histories at once than the cache would; the others are read one by one.
    /// </summary>
    private async Task PrefetchHistoriesAsync(List<string> order, Dictionary<string, MetricRow> known, CancellationToken cancellationToken)
    {
        List<string>? cold = null;
        int most = Math.Max(1, _options.HistoryCacheMetrics);
        foreach (var uid in order)
        {
            if (known.TryGetValue(uid, out var metric) && AcceptsResults(metric.Status) && !_histories.Contains(uid))
            {
                (cold ??= []).Add(uid);
                if (cold.Count == most)
                {
                    break;
                }
            }
        }

        if (cold is null || cold.Count < 2)
        {
            return; // one metric: the per-metric reads cost as much
        }

        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        var read = await _repository.GetScoredHistoriesAsync(cold, _options.Likelihood.SampleSize, cancellationToken).ConfigureAwait(false);
        Timings.Add(StageHistory, t);
        _prefetched = new Dictionary<string, ScoredRowsHistory>(read, StringComparer.Ordinal);
    }

    private async Task<ScoredRowHistory> GetHistoryAsync(string uid, long covered, CancellationToken cancellationToken)
    {
        if (_histories.TryGet(uid, out var cached) && cached.CoveredRowid == covered)
        {
            return cached;
        }

        int capacity = _options.Likelihood.SampleSize;
        long count;
        IReadOnlyList<MetricDataRow> stored;
        if (_prefetched is not null && _prefetched.Remove(uid, out var prefetched))
        {
            count = prefetched.Count;
            stored = prefetched.Newest;
        }
        else
        {
            count = await _repository.CountScoredRowsAsync(uid, cancellationToken).ConfigureAwait(false);
            stored = await _repository.GetNewestScoredRowsAsync(uid, capacity, cancellationToken).ConfigureAwait(false);
        }

        var history = new ScoredRowHistory(capacity, count, covered);
        foreach (var row in stored)
        {
            history.Load(new ScoredRow(row.Rowid, row.Timestamp, row.MetricValue, row.RawAnomalyScore ?? 0));
        }

        _histories.Set(uid, history);
        return history;
    }

    /// <summary>True when the results may be fed despite a gap after the covered rowid.</summary>
    private async Task<bool> AcceptGapAsync(string uid, long covered, long first, int failedAttempts, CancellationToken cancellationToken)
    {
        var between = await _repository.GetMetricDataAsync(
            new MetricDataQuery { Uid = uid, StartRowid = covered + 1, StopRowid = first - 1, Fields = MetricDataFields.None, Limit = 1 },
            cancellationToken).ConfigureAwait(false);
        if (between.Count == 0)
        {
            // Nothing stored in between (garbage-collected, or never stored): no gap.
            return true;
        }

        if (failedAttempts + 1 < _options.MaxFailedAttempts)
        {
            AnomalyLog.Gap(_logger, uid, first, covered, "waiting for the missing results (message retried)");
            return false;
        }

        AnomalyLog.Gap(_logger, uid, first, covered, "the missing results never came; scoring continues after the gap");
        return true;
    }

    private async Task AddStoredRowsAsync(string uid, List<ModelResult> group, long from, long to, List<ResultsRow> rows, CancellationToken cancellationToken)
    {
        var stored = await _repository.GetMetricDataAsync(
            new MetricDataQuery
            {
                Uid = uid,
                StartRowid = from,
                StopRowid = to,
                Fields = MetricDataFields.Timestamp | MetricDataFields.MetricValue | MetricDataFields.RawAnomalyScore | MetricDataFields.AnomalyScore,
            },
            cancellationToken).ConfigureAwait(false);
        int next = 0;
        foreach (var r in group)
        {
            if (r.Rowid > to)
            {
                break;
            }

            while (next < stored.Count && stored[next].Rowid < r.Rowid)
            {
                next++;
            }

            if (next < stored.Count && stored[next].Rowid == r.Rowid && stored[next] is { RawAnomalyScore: { } raw, AnomalyScore: { } anomaly } row)
            {
                rows.Add(new ResultsRow(row.Rowid, EpochSeconds(row.Timestamp), row.MetricValue, raw, anomaly, null));
                next++;
            }
        }
    }

    private async Task FailMetricAsync(MetricRow metric, ModelResult failed, CancellationToken cancellationToken)
    {
        string error = failed.ErrorMessage ?? $"model error status {failed.Status}";
        AnomalyLog.InferenceFailed(_logger, metric.Uid, failed.Rowid, failed.Status, error);
        if (metric.Status == MetricStatus.Error)
        {
            return;
        }

        try
        {
            await _repository.SetMetricStatusAsync(metric.Uid, MetricStatus.Error, error, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException)
        {
            // Deleted meanwhile: nothing to mark.
        }
    }

    private OutgoingMessage InferenceMessage(MetricRow metric, List<ResultsRow> rows)
    {
        var resultsMetric = new ResultsMetric(
            metric.Uid,
            metric.Name,
            metric.Description,
            metric.Server,
            metric.Location,
            metric.Datasource ?? "custom",
            MetricSpec(metric.Parameters));
        string id = string.Create(CultureInfo.InvariantCulture, $"{metric.Uid}:{rows[0].RowId}-{rows[^1].RowId}");
        return ResultsMessages.InferenceBatch(resultsMetric, rows, id);
    }

    /// <summary><c>parameters.metricSpec</c> as JSON object text ("{}" when absent or malformed).</summary>
    private static string MetricSpec(string? parameters)
    {
        if (string.IsNullOrWhiteSpace(parameters))
        {
            return "{}";
        }

        try
        {
            using var document = JsonDocument.Parse(parameters);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("metricSpec", out var spec)
                && spec.ValueKind == JsonValueKind.Object
                ? spec.GetRawText()
                : "{}";
        }
        catch (JsonException)
        {
            return "{}";
        }
    }

    // ---------------------------------------------------------------- command results

    private async Task ProcessCommandAsync(ModelResult result, List<OutgoingMessage> outgoing, CancellationToken cancellationToken)
    {
        Counters.AddCommand();
        string uid = result.MetricUid;
        string commandId = result.CommandId ?? string.Empty;
        switch (result.Method)
        {
            case "deleteModel":
                if (result.Status != 0)
                {
                    AnomalyLog.CommandFailed(_logger, uid, result.Method, result.CommandId, result.Status, result.ErrorMessage ?? string.Empty);
                }
                else
                {
                    AnomalyLog.ModelDeleted(_logger, uid, result.CommandId, result.Status);
                }

                _histories.Remove(uid);
                outgoing.Add(ResultsMessages.CommandResult(
                    new ResultsCommand(result.Method, uid, commandId, result.Status, result.Status == 0 ? null : result.ErrorMessage ?? string.Empty, null),
                    "cmd:" + uid + ":" + commandId));
                return;

            case "defineModel":
                await ProcessDefineAsync(result, commandId, outgoing, cancellationToken).ConfigureAwait(false);
                return;

            default:
                AnomalyLog.CommandIgnored(_logger, uid, result.Method, result.CommandId, "unknown method");
                return;
        }
    }

    private async Task ProcessDefineAsync(ModelResult result, string commandId, List<OutgoingMessage> outgoing, CancellationToken cancellationToken)
    {
        string uid = result.MetricUid;
        MetricRow metric;
        try
        {
            metric = await _repository.GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException)
        {
            AnomalyLog.CommandIgnored(_logger, uid, result.Method, result.CommandId, "metric not found");
            return;
        }

        if (result.Status != 0)
        {
            string error = result.ErrorMessage ?? $"defineModel failed with status {result.Status}";
            AnomalyLog.CommandFailed(_logger, uid, result.Method, result.CommandId, result.Status, error);
            if (metric.Status != MetricStatus.Error)
            {
                try
                {
                    await _repository.SetMetricStatusAsync(uid, MetricStatus.Error, error, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (MetricNotFoundException)
                {
                    AnomalyLog.CommandIgnored(_logger, uid, result.Method, result.CommandId, "metric deleted meanwhile");
                    return;
                }
            }
        }
        else if (metric.Status == MetricStatus.CreatePending)
        {
            try
            {
                await _repository.SetMetricStatusAsync(uid, MetricStatus.Active, null, MetricStatus.CreatePending, cancellationToken).ConfigureAwait(false);
                AnomalyLog.ModelActivated(_logger, uid, result.CommandId, StatusName(metric.Status));
            }
            catch (MetricNotFoundException)
            {
                // Changed (or deleted) between the read and the compare-and-set.
                AnomalyLog.DefineNotPending(_logger, uid, result.CommandId, "no longer CREATE_PENDING");
            }
        }
        else
        {
            AnomalyLog.DefineNotPending(_logger, uid, result.CommandId, StatusName(metric.Status));
        }

        if (metric.Parameters is null)
        {
            // As the original: without a model spec there is nothing to describe.
            AnomalyLog.CommandIgnored(_logger, uid, result.Method, result.CommandId, "metric has no parameters; result not published");
            return;
        }

        ResultsModelInfo? info = null;
        if (result.Status == 0)
        {
            info = new ResultsModelInfo(metric.Name ?? string.Empty, metric.Server ?? string.Empty, IsJsonObject(metric.Parameters) ? metric.Parameters : "{}");
        }

        outgoing.Add(ResultsMessages.CommandResult(
            new ResultsCommand(result.Method!, uid, commandId, result.Status, result.Status == 0 ? null : result.ErrorMessage ?? string.Empty, info),
            "cmd:" + uid + ":" + commandId));
    }

    // ---------------------------------------------------------------- helpers

    private static bool AcceptsResults(MetricStatus status) =>

        // A defineModel result may still be behind its first inferences (a requeue reorders), so CREATE_PENDING too.
        status is MetricStatus.Active or MetricStatus.CreatePending;

    private void Drop(string uid, int count, string reason)
    {
        Counters.AddDropped(count);
        AnomalyLog.ResultsDropped(_logger, count, uid, reason);
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Unix epoch seconds of the stored (whole-second) timestamp.</summary>
    private static double EpochSeconds(DateTime timestamp)
    {
        long ticks = timestamp.Ticks - DateTime.UnixEpoch.Ticks + (TimeSpan.TicksPerSecond / 2);
        return Math.Floor((double)ticks / TimeSpan.TicksPerSecond);
    }

    internal static string StatusName(MetricStatus status) => status switch
    {
        MetricStatus.Unmonitored => "UNMONITORED",
        MetricStatus.Active => "ACTIVE",
        MetricStatus.CreatePending => "CREATE_PENDING",
        MetricStatus.Error => "ERROR",
        MetricStatus.PendingData => "PENDING_DATA",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Least-recently-used histories of metrics, bounded by count (the handler is single-threaded).</summary>
    private sealed class HistoryCache(int capacity)
    {
        private readonly Dictionary<string, LinkedListNode<(string Uid, ScoredRowHistory History)>> _map = new(StringComparer.Ordinal);
        private readonly LinkedList<(string Uid, ScoredRowHistory History)> _lru = new();

        public bool TryGet(string uid, out ScoredRowHistory history)
        {
            lock (_map)
            {
                if (_map.TryGetValue(uid, out var node))
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    history = node.Value.History;
                    return true;
                }

                history = null!;
                return false;
            }
        }

        public bool Contains(string uid)
        {
            lock (_map)
            {
                return _map.ContainsKey(uid);
            }
        }

        public void Set(string uid, ScoredRowHistory history)
        {
            lock (_map)
            {
                if (_map.Remove(uid, out var old))
                {
                    _lru.Remove(old);
                }

                _map[uid] = _lru.AddFirst((uid, history));
                while (_map.Count > capacity)
                {
                    var oldest = _lru.Last!;
                    _lru.RemoveLast();
                    _map.Remove(oldest.Value.Uid);
                }
            }
        }

        public void Remove(string uid)
        {
            lock (_map)
            {
                if (_map.Remove(uid, out var node))
                {
                    _lru.Remove(node);
                }
            }
        }
    }
}

/// <summary>Counts of what the anomaly service did, for tests and the start-up/metrics line.</summary>
public sealed class AnomalyServiceCounters
{
    private long _scored;
    private long _dropped;
    private long _rejected;
    private long _commands;
    private long _published;

    /// <summary>Inference results scored and stored.</summary>
    public long Scored => Interlocked.Read(ref _scored);

    /// <summary>Inference results dropped (metric missing, not active, failed model, bad state).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Result messages that could not be decoded (dead-lettered).</summary>
    public long RejectedMessages => Interlocked.Read(ref _rejected);

    /// <summary>Command results processed.</summary>
    public long Commands => Interlocked.Read(ref _commands);

    /// <summary>Messages published to the results exchange.</summary>
    public long Published => Interlocked.Read(ref _published);

    internal void AddScored(int n) => Interlocked.Add(ref _scored, n);

    internal void AddDropped(int n) => Interlocked.Add(ref _dropped, n);

    internal void AddRejectedMessage() => Interlocked.Increment(ref _rejected);

    internal void AddCommand() => Interlocked.Increment(ref _commands);

    internal void AddPublished(int n) => Interlocked.Add(ref _published, n);
}
