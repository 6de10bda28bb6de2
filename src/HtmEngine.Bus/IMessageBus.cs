namespace HtmEngine.Bus;

/// <summary>
/// The engine's message bus: durable queues and fanout exchanges named by the caller, batched publishing that
/// returns only once the broker has taken responsibility for every message of the batch, and consumers with
/// manual acknowledgement, prefetch and dead-lettering. <see cref="RabbitMqMessageBus"/> and
/// <see cref="InProcessMessageBus"/> implement the same semantics.
/// </summary>
/// <remarks>
/// Delivery is at-least-once: a message whose acknowledgement is lost (crash, broker restart) is delivered again, and
/// a batch whose confirmation is lost is published again. Consumers recognise such copies by
/// <see cref="BusMessage.MessageId"/>. A failed message is requeued at the tail of its queue, so a poison message does
/// not block the ones behind it, and after <see cref="ConsumerOptions.MaxFailedAttempts"/> failures it is moved to the
/// durable queue <c>&lt;queue&gt;.dead</c> (see <see cref="DeadLetterQueueName"/>).
/// </remarks>
public interface IMessageBus : IAsyncDisposable
{
    /// <summary>The dead-letter queue of a queue.</summary>
    /// <param name="queue">The queue.</param>
    /// <returns><c>&lt;queue&gt;.dead</c>.</returns>
    static string DeadLetterQueueName(string queue) => queue + ".dead";

    /// <summary>Declares a durable queue and its dead-letter queue (idempotent).</summary>
    /// <param name="queue">The queue name.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    ValueTask DeclareQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Declares a durable fanout exchange (idempotent).</summary>
    /// <param name="exchange">The exchange name.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    ValueTask DeclareFanoutExchangeAsync(string exchange, CancellationToken cancellationToken = default);

    /// <summary>Binds a queue to a fanout exchange (idempotent).</summary>
    /// <param name="queue">The queue.</param>
    /// <param name="exchange">The exchange.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    ValueTask BindQueueAsync(string queue, string exchange, CancellationToken cancellationToken = default);

    /// <summary>Deletes a queue and its dead-letter queue; consumers of the queue are cancelled.</summary>
    /// <param name="queue">The queue.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    ValueTask DeleteQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Deletes an exchange.</summary>
    /// <param name="exchange">The exchange.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    ValueTask DeleteExchangeAsync(string exchange, CancellationToken cancellationToken = default);

    /// <summary>The number of messages waiting in a queue, not counting those delivered and not yet settled.</summary>
    /// <param name="queue">The queue.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The count.</returns>
    ValueTask<long> GetReadyCountAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes a batch to a queue, in order, and returns when all of them are confirmed. Throws
    /// <see cref="QueueNotFoundException"/> when the queue does not exist. On a connection loss the whole batch is
    /// published again after reconnecting, so some of it may arrive twice (same message ids). The bodies are read only
    /// during the call: the caller may reuse their memory once the returned task has completed.
    /// </summary>
    /// <param name="queue">The queue.</param>
    /// <param name="messages">The batch.</param>
    /// <param name="cancellationToken">Cancels waiting for space or for a reconnection.</param>
    /// <returns>A task that completes when the whole batch is confirmed.</returns>
    ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes a batch to a fanout exchange and returns when all of them are confirmed; with no queue bound the
    /// messages are dropped, as AMQP does.
    /// </summary>
    /// <param name="exchange">The exchange.</param>
    /// <param name="messages">The batch.</param>
    /// <param name="cancellationToken">Cancels waiting for space or for a reconnection.</param>
    /// <returns>A task that completes when the whole batch is confirmed.</returns>
    ValueTask PublishToExchangeAsync(string exchange, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts consuming a queue. Messages reach the handler one at a time, in queue order; never two calls at once, not
    /// even across a reconnection, since handlers keep per-message state.
    /// </summary>
    /// <param name="queue">The queue (must exist).</param>
    /// <param name="handler">Decides each message's fate; an exception counts as <see cref="ConsumeOutcome.Retry"/>.</param>
    /// <param name="options">Prefetch and dead-letter threshold.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The subscription.</returns>
    ValueTask<IBusSubscription> ConsumeAsync(string queue, MessageHandler handler, ConsumerOptions options, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts consuming a queue in batches: whenever messages are waiting, the handler gets all of them at once (up to
    /// <see cref="BatchConsumerOptions.MaxMessages"/> and <see cref="BatchConsumerOptions.MaxBytes"/>), in queue order,
    /// one batch at a time; it never waits for more to arrive. The messages are settled after the handler returns, each
    /// by its own outcome (Retry and DeadLetter as for <see cref="ConsumeAsync"/>), so a handler that commits a batch's
    /// work once and then returns has every message acknowledged only after that commit.
    /// </summary>
    /// <param name="queue">The queue (must exist).</param>
    /// <param name="handler">Decides each message's fate; an exception counts as <see cref="ConsumeOutcome.Retry"/> for the whole batch.</param>
    /// <param name="options">Batch limits, prefetch and dead-letter threshold.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The subscription.</returns>
    ValueTask<IBusSubscription> ConsumeBatchAsync(string queue, BatchMessageHandler handler, BatchConsumerOptions options, CancellationToken cancellationToken = default);
}
