using HtmEngine.Bus;

namespace HtmEngine.Tests.Unit.Runtime;

/// <summary>
/// A bus that forwards every call to another one; a test derives from it and overrides only the calls it intercepts
/// (failing publishes, holding a forward, keeping the batch handler instead of subscribing it).
/// </summary>
internal class ForwardingBus(IMessageBus inner) : IMessageBus
{
    /// <summary>The bus the calls go to.</summary>
    protected IMessageBus Inner => inner;

    public virtual ValueTask DeclareQueueAsync(string queue, CancellationToken cancellationToken = default) => inner.DeclareQueueAsync(queue, cancellationToken);

    public virtual ValueTask DeclareFanoutExchangeAsync(string exchange, CancellationToken cancellationToken = default) => inner.DeclareFanoutExchangeAsync(exchange, cancellationToken);

    public virtual ValueTask BindQueueAsync(string queue, string exchange, CancellationToken cancellationToken = default) => inner.BindQueueAsync(queue, exchange, cancellationToken);

    public virtual ValueTask DeleteQueueAsync(string queue, CancellationToken cancellationToken = default) => inner.DeleteQueueAsync(queue, cancellationToken);

    public virtual ValueTask DeleteExchangeAsync(string exchange, CancellationToken cancellationToken = default) => inner.DeleteExchangeAsync(exchange, cancellationToken);

    public virtual ValueTask<long> GetReadyCountAsync(string queue, CancellationToken cancellationToken = default) => inner.GetReadyCountAsync(queue, cancellationToken);

    public virtual ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default) =>
        inner.PublishToQueueAsync(queue, messages, cancellationToken);

    public virtual ValueTask PublishToExchangeAsync(string exchange, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default) =>
        inner.PublishToExchangeAsync(exchange, messages, cancellationToken);

    public virtual ValueTask<IBusSubscription> ConsumeAsync(string queue, MessageHandler handler, ConsumerOptions options, CancellationToken cancellationToken = default) =>
        inner.ConsumeAsync(queue, handler, options, cancellationToken);

    public virtual ValueTask<IBusSubscription> ConsumeBatchAsync(string queue, BatchMessageHandler handler, BatchConsumerOptions options, CancellationToken cancellationToken = default) =>
        inner.ConsumeBatchAsync(queue, handler, options, cancellationToken);

    /// <summary>Does not dispose the inner bus: the test owns it.</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// A <see cref="ForwardingBus"/> that keeps the batch handler a service subscribes instead of subscribing it, so a test
/// hands the service batches of its own making.
/// </summary>
internal class HandlerCapturingBus(IMessageBus inner) : ForwardingBus(inner)
{
    /// <summary>The handler the service passed to <see cref="ConsumeBatchAsync"/>, once it subscribed.</summary>
    public BatchMessageHandler? Handler { get; private set; }

    public override ValueTask<IBusSubscription> ConsumeBatchAsync(string queue, BatchMessageHandler handler, BatchConsumerOptions options, CancellationToken cancellationToken = default)
    {
        Handler = handler;
        return ValueTask.FromResult<IBusSubscription>(new IdleSubscription(queue));
    }

    /// <summary>A subscription that delivers nothing and completes when disposed.</summary>
    private sealed class IdleSubscription(string queue) : IBusSubscription
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Queue => queue;

        public Task Completion => _completion.Task;

        public ValueTask DisposeAsync()
        {
            _completion.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }
}
