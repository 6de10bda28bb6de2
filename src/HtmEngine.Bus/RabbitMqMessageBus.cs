using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace HtmEngine.Bus;

/// <summary>
/// <see cref="IMessageBus"/> on RabbitMQ (RabbitMQ.Client 7, async API). One long-lived connection with automatic
/// recovery (the client re-opens channels, re-declares the queues, exchanges and bindings declared through it, and
/// re-registers consumers); one publishing channel with tracked publisher confirms, used by one batch at a time; one
/// channel per consumer with manual acknowledgement and prefetch. Queues and exchanges are durable, messages
/// persistent, queue publishes mandatory.
/// </summary>
/// <remarks>
/// Failed messages are republished (with confirms) to the tail of their queue carrying a failure-count header, then
/// acknowledged; at <see cref="ConsumerOptions.MaxFailedAttempts"/> they go to <c>&lt;queue&gt;.dead</c> instead.
/// This works on classic queues, which keep no delivery count of their own.
/// </remarks>
public sealed class RabbitMqMessageBus : IMessageBus
{
    /// <summary>The header carrying the bus's failure count; not shown in <see cref="BusMessage.Headers"/>.</summary>
    public const string FailedAttemptsHeader = "x-htmengine-failed-attempts";

    private readonly RabbitMqBusOptions _options;
    private readonly ILogger _logger;
    private readonly IConnection _connection;
    private readonly SemaphoreSlim _publishLock = new(1, 1);
    private readonly SemaphoreSlim _topologyLock = new(1, 1);
    private IChannel? _publishChannel;
    private IChannel? _topologyChannel;

    private RabbitMqMessageBus(RabbitMqBusOptions options, ILogger logger, IConnection connection)
    {
        _options = options;
        _logger = logger;
        _connection = connection;
        _connection.ConnectionShutdownAsync += (_, e) =>
        {
            BusLog.ConnectionLost(_logger, e.ReplyText);
            return Task.CompletedTask;
        };
        _connection.RecoverySucceededAsync += (_, _) =>
        {
            BusLog.Recovered(_logger);
            return Task.CompletedTask;
        };
    }

    /// <summary>Connects, retrying with backoff for up to <see cref="RabbitMqBusOptions.ConnectTimeout"/>.</summary>
    /// <param name="options">Broker and retry settings.</param>
    /// <param name="logger">Where reconnections, retries and dead-lettering are logged.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The connected bus.</returns>
    public static async Task<RabbitMqMessageBus> ConnectAsync(RabbitMqBusOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var factory = new ConnectionFactory
        {
            HostName = options.Host,
            Port = options.Port,
            VirtualHost = options.VirtualHost,
            UserName = options.User,
            Password = options.Password,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = options.RecoveryInterval,
            RequestedHeartbeat = TimeSpan.FromSeconds(30),
            ClientProvidedName = options.ClientName,
        };
        var deadline = DateTime.UtcNow + options.ConnectTimeout;
        int delayMs = 100;
        while (true)
        {
            try
            {
                var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
                return new RabbitMqMessageBus(options, logger, connection);
            }
            catch (BrokerUnreachableException ex) when (DateTime.UtcNow < deadline)
            {
                BusLog.ConnectRetry(logger, options.Host, options.Port, ex.InnerException?.Message ?? ex.Message, delayMs);
                await Task.Delay(delayMs, cancellationToken).ConfigureAwait(false);
                delayMs = Math.Min(delayMs * 2, 2000);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DeclareQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(queue);
        return OnTopologyChannelAsync(async (channel, ct) =>
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueDeclareAsync(IMessageBus.DeadLetterQueueName(queue), durable: true, exclusive: false, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            return 0;
        }, queue, cancellationToken).AsVoid();
    }

    /// <inheritdoc />
    public ValueTask DeclareFanoutExchangeAsync(string exchange, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(exchange);
        return OnTopologyChannelAsync(async (channel, ct) =>
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            return 0;
        }, exchange, cancellationToken).AsVoid();
    }

    /// <inheritdoc />
    public ValueTask BindQueueAsync(string queue, string exchange, CancellationToken cancellationToken = default) =>
        OnTopologyChannelAsync(async (channel, ct) =>
        {
            await channel.QueueBindAsync(queue, exchange, string.Empty, cancellationToken: ct).ConfigureAwait(false);
            return 0;
        }, queue, cancellationToken).AsVoid();

    /// <inheritdoc />
    public ValueTask DeleteQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        OnTopologyChannelAsync(async (channel, ct) =>
        {
            await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueDeleteAsync(IMessageBus.DeadLetterQueueName(queue), ifUnused: false, ifEmpty: false, cancellationToken: ct).ConfigureAwait(false);
            return 0;
        }, queue, cancellationToken).AsVoid();

    /// <inheritdoc />
    public ValueTask DeleteExchangeAsync(string exchange, CancellationToken cancellationToken = default) =>
        OnTopologyChannelAsync(async (channel, ct) =>
        {
            await channel.ExchangeDeleteAsync(exchange, ifUnused: false, cancellationToken: ct).ConfigureAwait(false);
            return 0;
        }, exchange, cancellationToken).AsVoid();

    /// <inheritdoc />
    public async ValueTask<long> GetReadyCountAsync(string queue, CancellationToken cancellationToken = default) =>
        await OnTopologyChannelAsync(
            async (channel, ct) => (long)(await channel.QueueDeclarePassiveAsync(queue, ct).ConfigureAwait(false)).MessageCount,
            queue,
            cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default) =>
        PublishAsync(string.Empty, queue, mandatory: true, messages, cancellationToken);

    /// <inheritdoc />
    public ValueTask PublishToExchangeAsync(string exchange, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default) =>
        PublishAsync(exchange, string.Empty, mandatory: false, messages, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IBusSubscription> ConsumeAsync(string queue, MessageHandler handler, ConsumerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        IChannel channel = await OpenConsumerChannelAsync(queue, options.Prefetch, cancellationToken).ConfigureAwait(false);
        return await StartConsumingAsync(queue, channel, new Subscription(this, channel, queue, handler, options), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IBusSubscription> ConsumeBatchAsync(string queue, BatchMessageHandler handler, BatchConsumerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        IChannel channel = await OpenConsumerChannelAsync(queue, options.EffectivePrefetch, cancellationToken).ConfigureAwait(false);
        return await StartConsumingAsync(queue, channel, new BatchSubscription(this, channel, queue, handler, options), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A channel of its own for one consumer, with the given prefetch.</summary>
    private async Task<IChannel> OpenConsumerChannelAsync(string queue, int prefetch, CancellationToken cancellationToken)
    {
        // Fails with QueueNotFoundException before a consumer channel is spent on a missing queue.
        await GetReadyCountAsync(queue, cancellationToken).ConfigureAwait(false);
        IChannel channel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false, consumerDispatchConcurrency: 1),
            cancellationToken).ConfigureAwait(false);
        await channel.BasicQosAsync(0, (ushort)prefetch, global: false, cancellationToken).ConfigureAwait(false);
        return channel;
    }

    private static async Task<IBusSubscription> StartConsumingAsync(string queue, IChannel channel, SubscriptionBase subscription, CancellationToken cancellationToken)
    {
        await channel.BasicConsumeAsync(queue, autoAck: false, subscription, cancellationToken).ConfigureAwait(false);
        return subscription;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var channel in new[] { _publishChannel, _topologyChannel })
        {
            if (channel is not null)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }
        }

        await _connection.CloseAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _publishLock.Dispose();
        _topologyLock.Dispose();
    }

    private static bool IsNotFound(Exception ex) => ex is OperationInterruptedException { ShutdownReason.ReplyCode: 404 };

    private async ValueTask<T> OnTopologyChannelAsync<T>(Func<IChannel, CancellationToken, Task<T>> action, string entity, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.RetryTimeout;
        int delayMs = 50;
        await _topologyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                try
                {
                    if (_topologyChannel is null || (_topologyChannel.IsClosed && _connection.IsOpen))
                    {
                        if (_topologyChannel is not null)
                        {
                            await _topologyChannel.DisposeAsync().ConfigureAwait(false);
                        }

                        _topologyChannel = null;
                        _topologyChannel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    }

                    return await action(_topologyChannel, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (IsNotFound(ex))
                {
                    throw new QueueNotFoundException($"'{entity}' does not exist", ex);
                }
                catch (Exception ex) when (IsTransient(ex, cancellationToken) && DateTime.UtcNow < deadline)
                {
                    BusLog.PublishRetry(_logger, entity, ex.Message, delayMs);
                    await Task.Delay(delayMs, cancellationToken).ConfigureAwait(false);
                    delayMs = Math.Min(delayMs * 2, 2000);
                }
            }
        }
        finally
        {
            _topologyLock.Release();
        }
    }

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken) =>
        ex is not (QueueNotFoundException or ArgumentException or ObjectDisposedException)
        && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested);

    private async ValueTask PublishAsync(string exchange, string routingKey, bool mandatory, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return;
        }

        // Properties (and so message ids) are fixed once: a batch published again carries the same ids.
        var properties = new BasicProperties[messages.Count];
        for (int i = 0; i < properties.Length; i++)
        {
            properties[i] = ToProperties(messages[i]);
        }

        string destination = exchange.Length == 0 ? routingKey : exchange;
        var deadline = DateTime.UtcNow + _options.RetryTimeout;
        int delayMs = 50;
        await _publishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                try
                {
                    var channel = await GetPublishChannelAsync(cancellationToken).ConfigureAwait(false);
                    var pending = new Task[messages.Count];
                    for (int i = 0; i < pending.Length; i++)
                    {
                        // No caller token here: a token cancelled mid-publish corrupts confirm tracking in 7.x.
                        pending[i] = channel.BasicPublishAsync(exchange, routingKey, mandatory, properties[i], messages[i].Body, CancellationToken.None).AsTask();
                    }

                    var all = Task.WhenAll(pending);
                    try
                    {
                        await all.WaitAsync(_options.ConfirmTimeout, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception) when (all.IsFaulted)
                    {
                        foreach (var task in pending)
                        {
                            if (task.Exception?.InnerException is PublishException { IsReturn: true } returned)
                            {
                                throw new QueueNotFoundException($"queue '{routingKey}' does not exist (message returned)", returned);
                            }

                            if (task.Exception?.InnerException is { } inner && IsNotFound(inner))
                            {
                                throw new InvalidOperationException($"exchange '{exchange}' does not exist", inner);
                            }
                        }

                        throw;
                    }
                    catch (TimeoutException)
                    {
                        // Observe the abandoned tasks so their later faults are not unobserved.
                        _ = all.ContinueWith(t => t.Exception, TaskScheduler.Default);
                        throw;
                    }

                    return;
                }
                catch (Exception ex) when (IsTransient(ex, cancellationToken) && ex is not InvalidOperationException && DateTime.UtcNow < deadline)
                {
                    BusLog.PublishRetry(_logger, destination, ex.Message, delayMs);
                    await Task.Delay(delayMs, cancellationToken).ConfigureAwait(false);
                    delayMs = Math.Min(delayMs * 2, 2000);
                }
            }
        }
        finally
        {
            _publishLock.Release();
        }
    }

    private async ValueTask<IChannel> GetPublishChannelAsync(CancellationToken cancellationToken)
    {
        if (_publishChannel is { IsOpen: true })
        {
            return _publishChannel;
        }

        if (!_connection.IsOpen)
        {
            throw new AlreadyClosedException(_connection.CloseReason ?? new ShutdownEventArgs(ShutdownInitiator.Library, 0, "connection not open"));
        }

        if (_publishChannel is not null)
        {
            // Closed by a channel error (automatic recovery only re-opens channels lost with the connection).
            await _publishChannel.DisposeAsync().ConfigureAwait(false);
            _publishChannel = null;
        }

        _publishChannel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(
                publisherConfirmationsEnabled: true,
                publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: new ThrottlingRateLimiter(_options.MaxOutstandingConfirms)),
            cancellationToken).ConfigureAwait(false);
        return _publishChannel;
    }

    private static BasicProperties ToProperties(OutgoingMessage message, int failedAttempts = 0)
    {
        var properties = new BasicProperties
        {
            Persistent = message.Persistent,
            MessageId = message.MessageId ?? Guid.NewGuid().ToString("N"),
            ContentType = message.ContentType,
        };
        if (message.Headers is { Count: > 0 } || failedAttempts > 0)
        {
            var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (message.Headers is not null)
            {
                foreach (var (key, value) in message.Headers)
                {
                    headers[key] = value;
                }
            }

            if (failedAttempts > 0)
            {
                headers[FailedAttemptsHeader] = failedAttempts;
            }

            properties.Headers = headers;
        }

        return properties;
    }

    private static (Dictionary<string, string> Headers, int FailedAttempts) ReadHeaders(IReadOnlyBasicProperties properties)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        int failed = 0;
        if (properties.Headers is null)
        {
            return (headers, failed);
        }

        foreach (var (key, value) in properties.Headers)
        {
            string text = value switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                null => string.Empty,
                _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
            };
            if (key == FailedAttemptsHeader)
            {
                _ = int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out failed);
            }
            else
            {
                headers[key] = text;
            }
        }

        return (headers, failed);
    }

    /// <summary>
    /// What both consumers share: the queue, the stop token, completion when the broker cancels the consumer, settling
    /// that survives a lost connection, and a disposal that cancels the consumer and closes its channel (which returns
    /// every unacknowledged delivery to the queue).
    /// </summary>
    private abstract class SubscriptionBase : AsyncDefaultBasicConsumer, IBusSubscription
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _disposed;

        protected SubscriptionBase(RabbitMqMessageBus bus, IChannel channel, string queue)
            : base(channel)
        {
            Bus = bus;
            Queue = queue;
        }

        public string Queue { get; }

        public Task Completion => _completion.Task;

        protected RabbitMqMessageBus Bus { get; }

        protected CancellationTokenSource Stop { get; } = new();

        public override Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
        {
            BusLog.ConsumerCancelled(Bus._logger, Queue);
            _completion.TrySetException(new ConsumerCancelledException($"the broker cancelled the consumer of queue '{Queue}'"));
            return base.HandleBasicCancelAsync(consumerTag, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            await Stop.CancelAsync().ConfigureAwait(false);
            await AfterStopAsync().ConfigureAwait(false);
            try
            {
                if (Channel.IsOpen)
                {
                    foreach (string tag in ConsumerTags)
                    {
                        await Channel.BasicCancelAsync(tag).ConfigureAwait(false);
                    }

                    // Closing the channel returns every unacknowledged delivery to the queue.
                    await Channel.CloseAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is OperationInterruptedException or OperationCanceledException or IOException)
            {
                // The connection is already gone; the broker requeues unacknowledged deliveries itself.
            }

            await Channel.DisposeAsync().ConfigureAwait(false);
            _completion.TrySetResult();
            Stop.Dispose();
        }

        /// <summary>Ends <see cref="Completion"/> with the failure that stopped the consumer.</summary>
        protected void Fail(Exception exception) => _completion.TrySetException(exception);

        /// <summary>Runs after the stop token is cancelled and before the channel closes.</summary>
        protected virtual Task AfterStopAsync() => Task.CompletedTask;

        /// <summary>The message as handlers see it, with the bus's own headers read off the delivery.</summary>
        protected BusMessage ToMessage(bool redelivered, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, out Dictionary<string, string> headers)
        {
            (headers, int failedAttempts) = ReadHeaders(properties);
            return new BusMessage(Queue, body.ToArray(), properties.MessageId, headers, properties.ContentType, redelivered, failedAttempts);
        }

        protected async Task SettleAsync(BusMessage message, Func<Task> settle)
        {
            try
            {
                await settle().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationInterruptedException or OperationCanceledException or IOException)
            {
                BusLog.SettleFailed(Bus._logger, message.MessageId, Queue, ex.Message);
            }
        }
    }

    /// <summary>
    /// A one-message-at-a-time consumer. The client does not guarantee that on its own across a connection recovery:
    /// the old channel's dispatcher keeps running the handler call in hand (and then drains the deliveries it had
    /// queued) while the recovered channel's dispatcher already delivers the requeued messages again, so two calls
    /// would overlap (issue #7: a storer handling two messages at once on its per-message scratch space can store one
    /// message's samples and forward or acknowledge the other's). A gate of its own keeps the calls one at a time.
    /// </summary>
    private sealed class Subscription : SubscriptionBase
    {
        private readonly MessageHandler _handler;
        private readonly ConsumerOptions _options;

        // Not disposed: a delivery may still be waiting on it when the subscription is disposed (it then sees the stop).
        private readonly SemaphoreSlim _oneAtATime = new(1, 1);

        public Subscription(RabbitMqMessageBus bus, IChannel channel, string queue, MessageHandler handler, ConsumerOptions options)
            : base(bus, channel, queue)
        {
            _handler = handler;
            _options = options;
        }

        public override async Task HandleBasicDeliverAsync(
            string consumerTag,
            ulong deliveryTag,
            bool redelivered,
            string exchange,
            string routingKey,
            IReadOnlyBasicProperties properties,
            ReadOnlyMemory<byte> body,
            CancellationToken cancellationToken = default)
        {
            BusMessage message = ToMessage(redelivered, properties, body, out Dictionary<string, string> headers);
            try
            {
                await _oneAtATime.WaitAsync(Stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped while an earlier call still ran: the message goes back unhandled.
                await SettleAsync(message, () => Channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true).AsTask()).ConfigureAwait(false);
                return;
            }

            try
            {
                await HandleAndSettleAsync(deliveryTag, message, headers, properties.Persistent).ConfigureAwait(false);
            }
            finally
            {
                _oneAtATime.Release();
            }
        }

        private async Task HandleAndSettleAsync(ulong deliveryTag, BusMessage message, Dictionary<string, string> headers, bool persistent)
        {
            ConsumeOutcome outcome;
            Exception? failure = null;
            try
            {
                outcome = await _handler(message, Stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (Stop.IsCancellationRequested)
            {
                await SettleAsync(message, () => Channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true).AsTask()).ConfigureAwait(false);
                return;
            }
            catch (Exception ex)
            {
                outcome = ConsumeOutcome.Retry;
                failure = ex;
            }

            if (outcome != ConsumeOutcome.Ack
                && !await Bus.RequeueOrDeadLetterAsync(Queue, message, headers, persistent, outcome, failure, _options.MaxFailedAttempts).ConfigureAwait(false))
            {
                await SettleAsync(message, () => Channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true).AsTask()).ConfigureAwait(false);
                return;
            }

            await SettleAsync(message, () => Channel.BasicAckAsync(deliveryTag, multiple: false).AsTask()).ConfigureAwait(false);
        }
    }

    /// <summary>One delivery waiting for its batch: the broker's tag and the message as the handler sees it.</summary>
    private readonly record struct Delivery(ulong Tag, BusMessage Message, Dictionary<string, string> Headers, bool Persistent);

    /// <summary>
    /// A batch consumer. The client's dispatcher only queues each delivery here (it never waits on the handler), so
    /// while one batch is handled the next ones gather, up to the prefetch; one loop takes every delivery already
    /// queued (within the batch limits), runs the handler once for them and then settles them, one multiple-ack when
    /// all were acknowledged. Delivery tags stay valid across a connection recovery (the client's recovery-aware
    /// channel offsets them and drops acks of deliveries from before it, which the broker has requeued anyway).
    /// </summary>
    private sealed class BatchSubscription : SubscriptionBase
    {
        private readonly BatchMessageHandler _handler;
        private readonly BatchConsumerOptions _options;

        // Not SingleWriter: after a connection recovery the old channel's dispatcher may still hand over the deliveries
        // it had queued while the recovered channel's dispatcher delivers too (see Subscription).
        private readonly System.Threading.Channels.Channel<Delivery> _deliveries =
            System.Threading.Channels.Channel.CreateUnbounded<Delivery>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        private readonly Task _loop;

        public BatchSubscription(RabbitMqMessageBus bus, IChannel channel, string queue, BatchMessageHandler handler, BatchConsumerOptions options)
            : base(bus, channel, queue)
        {
            _handler = handler;
            _options = options;
            _loop = Task.Run(LoopAsync);
        }

        public override Task HandleBasicDeliverAsync(
            string consumerTag,
            ulong deliveryTag,
            bool redelivered,
            string exchange,
            string routingKey,
            IReadOnlyBasicProperties properties,
            ReadOnlyMemory<byte> body,
            CancellationToken cancellationToken = default)
        {
            BusMessage message = ToMessage(redelivered, properties, body, out Dictionary<string, string> headers);
            _deliveries.Writer.TryWrite(new Delivery(deliveryTag, message, headers, properties.Persistent));
            return Task.CompletedTask;
        }

        // The batch in hand ends first (settled, or handed back when its handler honoured the token); closing the
        // channel then returns the deliveries still queued here too.
        protected override Task AfterStopAsync() => _loop;

        private async Task LoopAsync()
        {
            var reader = _deliveries.Reader;
            var batch = new List<Delivery>(_options.MaxMessages);
            try
            {
                while (await reader.WaitToReadAsync(Stop.Token).ConfigureAwait(false))
                {
                    long bytes = 0;
                    while (batch.Count < _options.MaxMessages && reader.TryPeek(out var next))
                    {
                        if (batch.Count > 0 && bytes + next.Message.Body.Length > _options.MaxBytes)
                        {
                            break;
                        }

                        reader.TryRead(out _);
                        batch.Add(next);
                        bytes += next.Message.Body.Length;
                    }

                    await HandleBatchAsync(batch).ConfigureAwait(false);
                    batch.Clear();
                }
            }
            catch (OperationCanceledException) when (Stop.IsCancellationRequested)
            {
                // Disposed: what is still queued here goes back to the broker when the channel closes.
            }
            catch (Exception ex)
            {
                // Not expected (the handler's own failures are settled as retries); end the subscription visibly.
                Fail(ex);
            }
        }

        private async Task HandleBatchAsync(List<Delivery> batch)
        {
            var messages = new BusMessage[batch.Count];
            for (int i = 0; i < messages.Length; i++)
            {
                messages[i] = batch[i].Message;
            }

            IReadOnlyList<ConsumeOutcome>? outcomes = null;
            Exception? failure = null;
            try
            {
                outcomes = await _handler(messages, Stop.Token).ConfigureAwait(false);
                if (outcomes is null || outcomes.Count != messages.Length)
                {
                    throw new InvalidOperationException($"the batch handler of queue '{Queue}' returned {outcomes?.Count ?? 0} outcomes for {messages.Length} messages");
                }
            }
            catch (OperationCanceledException) when (Stop.IsCancellationRequested)
            {
                // Handed back unsettled, in place: a redelivery, not a failure.
                await SettleAsync(messages[^1], () => Channel.BasicNackAsync(batch[^1].Tag, multiple: true, requeue: true).AsTask()).ConfigureAwait(false);
                return;
            }
            catch (Exception ex)
            {
                outcomes = null;
                failure = ex;
            }

            bool allSettled = true;
            bool[]? returned = null;
            for (int i = 0; i < batch.Count; i++)
            {
                var outcome = outcomes is null ? ConsumeOutcome.Retry : outcomes[i];
                if (outcome == ConsumeOutcome.Ack)
                {
                    continue;
                }

                var delivery = batch[i];
                if (!await Bus.RequeueOrDeadLetterAsync(Queue, delivery.Message, delivery.Headers, delivery.Persistent, outcome, failure, _options.MaxFailedAttempts).ConfigureAwait(false))
                {
                    allSettled = false;
                    (returned ??= new bool[batch.Count])[i] = true;
                }
            }

            if (allSettled)
            {
                // Every earlier delivery of this channel is settled already, so one multiple-ack covers exactly this batch.
                await SettleAsync(messages[^1], () => Channel.BasicAckAsync(batch[^1].Tag, multiple: true).AsTask()).ConfigureAwait(false);
                return;
            }

            for (int i = 0; i < batch.Count; i++)
            {
                ulong tag = batch[i].Tag;
                await SettleAsync(messages[i], returned![i]
                    ? () => Channel.BasicNackAsync(tag, multiple: false, requeue: true).AsTask()
                    : () => Channel.BasicAckAsync(tag, multiple: false).AsTask()).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Settles a message the handler did not acknowledge: republishes it (confirmed) to the tail of its queue with its
    /// failure count raised, or to the dead-letter queue. True when the original may now be acknowledged; false when
    /// the republish failed and the original must be returned to the broker instead.
    /// </summary>
    private async Task<bool> RequeueOrDeadLetterAsync(string queue, BusMessage message, Dictionary<string, string> headers, bool persistent,
        ConsumeOutcome outcome, Exception? failure, int maxFailedAttempts)
    {
        int attempts = message.FailedAttempts + 1;
        string target = queue;
        if (outcome == ConsumeOutcome.DeadLetter || attempts >= maxFailedAttempts)
        {
            target = IMessageBus.DeadLetterQueueName(queue);
            BusLog.DeadLettered(_logger, message.MessageId, queue, attempts, target);
        }
        else if (failure is not null)
        {
            BusLog.HandlerFailed(_logger, failure, queue, message.MessageId, attempts);
        }

        var copy = new OutgoingMessage(message.Body, message.MessageId, headers, message.ContentType, persistent);
        try
        {
            // Confirmed before the original is acknowledged: a crash in between leaves a duplicate, never a loss.
            await PublishRawAsync(target, copy, attempts).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            BusLog.SettleFailed(_logger, message.MessageId, queue, ex.Message);
            return false;
        }
    }

    private ValueTask PublishRawAsync(string queue, OutgoingMessage message, int failedAttempts) =>
        PublishPreparedAsync(queue, message, ToProperties(message, failedAttempts));

    private async ValueTask PublishPreparedAsync(string queue, OutgoingMessage message, BasicProperties properties)
    {
        var deadline = DateTime.UtcNow + _options.RetryTimeout;
        int delayMs = 50;
        await _publishLock.WaitAsync().ConfigureAwait(false);
        try
        {
            while (true)
            {
                try
                {
                    var channel = await GetPublishChannelAsync(CancellationToken.None).ConfigureAwait(false);
                    await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, message.Body, CancellationToken.None)
                        .AsTask().WaitAsync(_options.ConfirmTimeout).ConfigureAwait(false);
                    return;
                }
                catch (PublishException ex) when (ex.IsReturn)
                {
                    throw new QueueNotFoundException($"queue '{queue}' does not exist (message returned)", ex);
                }
                catch (Exception ex) when (IsTransient(ex, CancellationToken.None) && DateTime.UtcNow < deadline)
                {
                    BusLog.PublishRetry(_logger, queue, ex.Message, delayMs);
                    await Task.Delay(delayMs).ConfigureAwait(false);
                    delayMs = Math.Min(delayMs * 2, 2000);
                }
            }
        }
        finally
        {
            _publishLock.Release();
        }
    }
}

/// <summary>Small helpers for the bus's value tasks.</summary>
internal static class ValueTaskExtensions
{
    /// <summary>Drops a value task's result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="task">The task.</param>
    /// <returns>A task without result.</returns>
    public static async ValueTask AsVoid<T>(this ValueTask<T> task) => await task.ConfigureAwait(false);
}
