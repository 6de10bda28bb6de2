using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Bus;

/// <summary>
/// The embedded bus: every queue is a bounded <see cref="Channel{T}"/>, so a publisher waits while a queue is full
/// (backpressure) instead of growing memory. Acknowledgement, retry, dead-letter, prefetch and cancellation behave as
/// on <see cref="RabbitMqMessageBus"/>; nothing survives the process, so "confirmed" means "in the queue".
/// </summary>
public sealed class InProcessMessageBus : IMessageBus
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, InProcessQueue> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _exchanges = new(StringComparer.Ordinal);
    private readonly int _queueCapacity;
    private readonly ILogger _logger;

    /// <summary>Creates an empty bus.</summary>
    /// <param name="queueCapacity">The most messages a queue holds before publishers wait.</param>
    /// <param name="logger">Where dead-lettering and handler failures are logged.</param>
    public InProcessMessageBus(int queueCapacity = 10_000, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _queueCapacity = queueCapacity;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public ValueTask DeclareQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(queue);
        lock (_gate)
        {
            foreach (string name in (ReadOnlySpan<string>)[queue, IMessageBus.DeadLetterQueueName(queue)])
            {
                if (!_queues.ContainsKey(name))
                {
                    _queues[name] = new InProcessQueue(name, _queueCapacity);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeclareFanoutExchangeAsync(string exchange, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(exchange);
        lock (_gate)
        {
            _exchanges.TryAdd(exchange, []);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask BindQueueAsync(string queue, string exchange, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_queues.ContainsKey(queue))
            {
                throw new QueueNotFoundException($"queue '{queue}' does not exist");
            }

            List<string> bound = _exchanges.TryGetValue(exchange, out var list)
                ? list
                : throw new InvalidOperationException($"exchange '{exchange}' does not exist");
            if (!bound.Contains(queue))
            {
                bound.Add(queue);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (string name in (ReadOnlySpan<string>)[queue, IMessageBus.DeadLetterQueueName(queue)])
            {
                if (_queues.Remove(name, out var removed))
                {
                    removed.Delete();
                }
            }

            foreach (var bound in _exchanges.Values)
            {
                bound.Remove(queue);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteExchangeAsync(string exchange, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _exchanges.Remove(exchange);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> GetReadyCountAsync(string queue, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult((long)GetQueue(queue).Messages.Reader.Count);

    /// <inheritdoc />
    public async ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        InProcessQueue target = GetQueue(queue);
        foreach (var message in messages)
        {
            await target.WriteAsync(Envelope.From(message), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask PublishToExchangeAsync(string exchange, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        InProcessQueue[] targets;
        lock (_gate)
        {
            targets = _exchanges.TryGetValue(exchange, out var bound)
                ? [.. bound.Select(q => _queues[q])]
                : throw new InvalidOperationException($"exchange '{exchange}' does not exist");
        }

        foreach (var message in messages)
        {
            var envelope = Envelope.From(message);
            foreach (var target in targets)
            {
                try
                {
                    await target.WriteAsync(envelope, cancellationToken).ConfigureAwait(false);
                }
                catch (QueueNotFoundException)
                {
                    // Deleted while publishing: for a fanout that is the same as not bound.
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<IBusSubscription> ConsumeAsync(string queue, MessageHandler handler, ConsumerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        InProcessQueue source = GetQueue(queue);
        return ValueTask.FromResult<IBusSubscription>(new Subscription(this, source, handler, null, options.Prefetch, options.MaxFailedAttempts, 1, int.MaxValue));
    }

    /// <inheritdoc />
    public ValueTask<IBusSubscription> ConsumeBatchAsync(string queue, BatchMessageHandler handler, BatchConsumerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        InProcessQueue source = GetQueue(queue);
        return ValueTask.FromResult<IBusSubscription>(
            new Subscription(this, source, null, handler, options.EffectivePrefetch, options.MaxFailedAttempts, options.MaxMessages, options.MaxBytes));
    }

    /// <summary>
    /// Waits until every queue that has a consumer is empty and none of its messages is being handled, continuously for
    /// <paramref name="settle"/>, or until <paramref name="cancellationToken"/>. A graceful stop calls this before it
    /// stops each consumer: nothing in this bus survives the process, so what is still queued at exit would be lost.
    /// Queues without a consumer (dead letters, a subscriber that went away) cannot drain and are not waited for.
    /// </summary>
    /// <param name="settle">How long the bus must stay idle.</param>
    /// <param name="cancellationToken">Ends the wait (the caller then stops anyway).</param>
    /// <returns>True when the bus was idle; false when the wait was cancelled first.</returns>
    public async Task<bool> WaitUntilIdleAsync(TimeSpan settle, CancellationToken cancellationToken)
    {
        var idleSince = DateTime.UtcNow;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (!IsIdle())
            {
                idleSince = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - idleSince >= settle)
            {
                return true;
            }

            try
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return false;
    }

    private bool IsIdle()
    {
        lock (_gate)
        {
            foreach (var queue in _queues.Values)
            {
                if (Volatile.Read(ref queue.Consumers) > 0 && !queue.IsIdle)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            foreach (var queue in _queues.Values)
            {
                queue.Delete();
            }

            _queues.Clear();
            _exchanges.Clear();
        }

        return ValueTask.CompletedTask;
    }

    private InProcessQueue GetQueue(string queue)
    {
        lock (_gate)
        {
            return _queues.TryGetValue(queue, out var found)
                ? found
                : throw new QueueNotFoundException($"queue '{queue}' does not exist");
        }
    }

    private InProcessQueue? FindQueue(string queue)
    {
        lock (_gate)
        {
            return _queues.GetValueOrDefault(queue);
        }
    }

    private sealed record Envelope(
        ReadOnlyMemory<byte> Body,
        string MessageId,
        IReadOnlyDictionary<string, string> Headers,
        string? ContentType,
        int FailedAttempts,
        bool Redelivered)
    {
        private static readonly Dictionary<string, string> s_noHeaders = [];

        public static Envelope From(OutgoingMessage message) => new(
            message.Body.ToArray(),
            message.MessageId ?? Guid.NewGuid().ToString("N"),
            message.Headers is null ? s_noHeaders : new Dictionary<string, string>(message.Headers, StringComparer.Ordinal),
            message.ContentType,
            0,
            false);

        public BusMessage ToMessage(string queue) => new(queue, Body, MessageId, Headers, ContentType, Redelivered, FailedAttempts);
    }

    private sealed class InProcessQueue(string name, int capacity)
    {
        public string Name { get; } = name;

        public Channel<Envelope> Messages { get; } = Channel.CreateBounded<Envelope>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
        });

        public async ValueTask WriteAsync(Envelope envelope, CancellationToken cancellationToken)
        {
            try
            {
                await Messages.Writer.WriteAsync(envelope, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException ex)
            {
                throw new QueueNotFoundException($"queue '{Name}' was deleted", ex);
            }
        }

        public void Delete() => Messages.Writer.TryComplete();

        /// <summary>Messages taken by a consumer and not yet settled (acked, requeued, dead-lettered or returned).</summary>
        public int InFlight;

        /// <summary>Open subscriptions on this queue.</summary>
        public int Consumers;

        /// <summary>True when nothing waits and nothing is being handled.</summary>
        public bool IsIdle => Messages.Reader.Count == 0 && Volatile.Read(ref InFlight) == 0;
    }

    private sealed class Subscription : IBusSubscription
    {
        private readonly InProcessMessageBus _bus;
        private readonly InProcessQueue _source;
        private readonly MessageHandler? _handler;
        private readonly BatchMessageHandler? _batchHandler;
        private readonly int _maxFailedAttempts;
        private readonly int _maxMessages;
        private readonly int _maxBytes;
        private readonly SemaphoreSlim _slots;
        private readonly Channel<Envelope> _delivered = Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _pump;
        private readonly Task _dispatch;
        private int _disposed;

        // Exactly one of handler and batchHandler is set; a one-message consumer is a batch consumer of one.
        public Subscription(InProcessMessageBus bus, InProcessQueue source, MessageHandler? handler, BatchMessageHandler? batchHandler,
            int prefetch, int maxFailedAttempts, int maxMessages, int maxBytes)
        {
            _bus = bus;
            _source = source;
            _handler = handler;
            _batchHandler = batchHandler;
            _maxFailedAttempts = maxFailedAttempts;
            _maxMessages = maxMessages;
            _maxBytes = maxBytes;
            _slots = new SemaphoreSlim(prefetch, prefetch);
            Interlocked.Increment(ref source.Consumers);
            _pump = Task.Run(PumpAsync);
            _dispatch = Task.Run(_batchHandler is null ? DispatchAsync : DispatchBatchesAsync);
            Completion = WaitAsync();
        }

        public string Queue => _source.Name;

        public Task Completion { get; }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Completion.ConfigureAwait(false);
            }
            catch (ConsumerCancelledException)
            {
                // Already ended by the queue's deletion.
            }

            Interlocked.Decrement(ref _source.Consumers);
            _stop.Dispose();
            _slots.Dispose();
        }

        private async Task WaitAsync()
        {
            await Task.WhenAll(_pump, _dispatch).ConfigureAwait(false);
        }

        // Moves messages from the queue into this consumer while it holds fewer than Prefetch unsettled ones.
        private async Task PumpAsync()
        {
            var reader = _source.Messages.Reader;
            try
            {
                while (true)
                {
                    await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
                    if (!await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
                    {
                        BusLog.ConsumerCancelled(_bus._logger, _source.Name);
                        _delivered.Writer.TryComplete(new ConsumerCancelledException($"queue '{_source.Name}' was deleted"));
                        return;
                    }

                    if (reader.TryRead(out var envelope))
                    {
                        Interlocked.Increment(ref _source.InFlight);
                        _delivered.Writer.TryWrite(envelope);
                    }
                    else
                    {
                        _slots.Release();
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                _delivered.Writer.TryComplete();
            }
        }

        private async Task DispatchAsync()
        {
            var reader = _delivered.Reader;
            try
            {
                while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    while (reader.TryRead(out var envelope))
                    {
                        if (_stop.IsCancellationRequested)
                        {
                            ReturnUnsettled(envelope);
                            Interlocked.Decrement(ref _source.InFlight);
                            continue;
                        }

                        await HandleAsync(envelope).ConfigureAwait(false);
                    }
                }
            }
            catch (ChannelClosedException ex) when (ex.InnerException is ConsumerCancelledException cancelled)
            {
                throw cancelled;
            }
        }

        private async Task HandleAsync(Envelope envelope)
        {
            try
            {
                await SettleAsync(envelope).ConfigureAwait(false);
            }
            finally
            {
                // Settled: acked, requeued (already back in the queue), dead-lettered or returned.
                Interlocked.Decrement(ref _source.InFlight);
            }
        }

        private async Task SettleAsync(Envelope envelope)
        {
            ConsumeOutcome outcome;
            Exception? failure = null;
            try
            {
                outcome = await _handler!(envelope.ToMessage(_source.Name), _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                ReturnUnsettled(envelope);
                return;
            }
            catch (Exception ex)
            {
                outcome = ConsumeOutcome.Retry;
                failure = ex;
            }

            await SettleOutcomeAsync(envelope, outcome, failure).ConfigureAwait(false);
        }

        // Takes every message already delivered (within the batch limits), hands them to the handler together and
        // settles each by its outcome only once the handler has returned.
        private async Task DispatchBatchesAsync()
        {
            var reader = _delivered.Reader;
            var envelopes = new List<Envelope>(_maxMessages);
            try
            {
                while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    long bytes = 0;
                    while (envelopes.Count < _maxMessages && reader.TryPeek(out var next))
                    {
                        if (envelopes.Count > 0 && bytes + next.Body.Length > _maxBytes)
                        {
                            break;
                        }

                        reader.TryRead(out _);
                        envelopes.Add(next);
                        bytes += next.Body.Length;
                    }

                    try
                    {
                        if (_stop.IsCancellationRequested)
                        {
                            foreach (var envelope in envelopes)
                            {
                                ReturnUnsettled(envelope);
                            }
                        }
                        else
                        {
                            await HandleBatchAsync(envelopes).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        Interlocked.Add(ref _source.InFlight, -envelopes.Count);
                        envelopes.Clear();
                    }
                }
            }
            catch (ChannelClosedException ex) when (ex.InnerException is ConsumerCancelledException cancelled)
            {
                throw cancelled;
            }
        }

        private async Task HandleBatchAsync(List<Envelope> envelopes)
        {
            var messages = new BusMessage[envelopes.Count];
            for (int i = 0; i < messages.Length; i++)
            {
                messages[i] = envelopes[i].ToMessage(_source.Name);
            }

            IReadOnlyList<ConsumeOutcome>? outcomes = null;
            Exception? failure = null;
            try
            {
                outcomes = await _batchHandler!(messages, _stop.Token).ConfigureAwait(false);
                if (outcomes is null || outcomes.Count != messages.Length)
                {
                    throw new InvalidOperationException($"the batch handler of queue '{_source.Name}' returned {outcomes?.Count ?? 0} outcomes for {messages.Length} messages");
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                foreach (var envelope in envelopes)
                {
                    ReturnUnsettled(envelope);
                }

                return;
            }
            catch (Exception ex)
            {
                outcomes = null;
                failure = ex;
            }

            for (int i = 0; i < envelopes.Count; i++)
            {
                await SettleOutcomeAsync(envelopes[i], outcomes is null ? ConsumeOutcome.Retry : outcomes[i], failure).ConfigureAwait(false);
            }
        }

        private async Task SettleOutcomeAsync(Envelope envelope, ConsumeOutcome outcome, Exception? failure)
        {
            // The slot is free before any requeue write, so a full queue cannot wait on this consumer.
            _slots.Release();
            if (outcome == ConsumeOutcome.Ack)
            {
                return;
            }

            int attempts = envelope.FailedAttempts + 1;
            if (outcome == ConsumeOutcome.DeadLetter || attempts >= _maxFailedAttempts)
            {
                string dead = IMessageBus.DeadLetterQueueName(_source.Name);
                BusLog.DeadLettered(_bus._logger, envelope.MessageId, _source.Name, attempts, dead);
                if (_bus.FindQueue(dead) is { } deadQueue)
                {
                    await WriteQuietlyAsync(deadQueue, envelope with { FailedAttempts = attempts, Redelivered = false }).ConfigureAwait(false);
                }

                return;
            }

            if (failure is not null)
            {
                BusLog.HandlerFailed(_bus._logger, failure, _source.Name, envelope.MessageId, attempts);
            }

            await WriteQuietlyAsync(_source, envelope with { FailedAttempts = attempts, Redelivered = false }).ConfigureAwait(false);
        }

        private static async ValueTask WriteQuietlyAsync(InProcessQueue queue, Envelope envelope)
        {
            try
            {
                await queue.WriteAsync(envelope, CancellationToken.None).ConfigureAwait(false);
            }
            catch (QueueNotFoundException)
            {
                // The queue was deleted meanwhile; its messages are gone, as on a broker.
            }
        }

        // Unsettled at disposal: back to the queue as a redelivery, not counted as a failure.
        private void ReturnUnsettled(Envelope envelope)
        {
            var returned = envelope with { Redelivered = true };
            if (!_source.Messages.Writer.TryWrite(returned))
            {
                // Full: hand it back as soon as there is room rather than drop it; a deleted queue drops it.
                _ = WriteQuietlyAsync(_source, returned).AsTask();
            }

            _slots.Release();
        }
    }
}
