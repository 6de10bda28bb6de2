namespace HtmEngine.Bus;

/// <summary>A message to publish: a body, an optional id, string headers and a content type.</summary>
/// <param name="Body">The payload; the bus does not interpret it.</param>
/// <param name="MessageId">
/// An id that lets consumers recognise a redelivered or republished copy; the bus assigns a new GUID when null.
/// </param>
/// <param name="Headers">Application headers (for example <c>dataType</c>); null for none.</param>
/// <param name="ContentType">The content type, or null.</param>
/// <param name="Persistent">True (the default) to ask the broker to keep the message across restarts.</param>
public sealed record OutgoingMessage(
    ReadOnlyMemory<byte> Body,
    string? MessageId = null,
    IReadOnlyDictionary<string, string>? Headers = null,
    string? ContentType = null,
    bool Persistent = true);

/// <summary>A delivered message. The body is a private copy and stays valid after the handler returns.</summary>
/// <param name="Queue">The queue it came from.</param>
/// <param name="Body">The payload.</param>
/// <param name="MessageId">The publisher's message id (null when a foreign publisher set none).</param>
/// <param name="Headers">Application headers, without the bus's own bookkeeping headers.</param>
/// <param name="ContentType">The content type, or null.</param>
/// <param name="Redelivered">True when the broker delivered it before without an acknowledgement.</param>
/// <param name="FailedAttempts">How many times a handler already failed on this message (0 on the first delivery).</param>
public sealed record BusMessage(
    string Queue,
    ReadOnlyMemory<byte> Body,
    string? MessageId,
    IReadOnlyDictionary<string, string> Headers,
    string? ContentType,
    bool Redelivered,
    int FailedAttempts);

/// <summary>What a handler decided about a message.</summary>
public enum ConsumeOutcome
{
    /// <summary>Processed: acknowledge it, it is gone from the queue.</summary>
    Ack,

    /// <summary>
    /// Failed, try again later: the message goes back to the tail of its queue with its failure count raised, or to
    /// the dead-letter queue once the count reaches <see cref="ConsumerOptions.MaxFailedAttempts"/>. A handler that
    /// throws is treated the same way.
    /// </summary>
    Retry,

    /// <summary>Cannot ever be processed: move it to the dead-letter queue now.</summary>
    DeadLetter,
}

/// <summary>Handles one delivered message; the bus acknowledges, requeues or dead-letters it by the outcome.</summary>
/// <param name="message">The message.</param>
/// <param name="cancellationToken">Cancelled when the subscription is disposed.</param>
/// <returns>The outcome.</returns>
public delegate ValueTask<ConsumeOutcome> MessageHandler(BusMessage message, CancellationToken cancellationToken);

/// <summary>
/// Handles a batch of delivered messages: every message that was already waiting when the batch was taken (at least
/// one, at most <see cref="BatchConsumerOptions.MaxMessages"/> and about <see cref="BatchConsumerOptions.MaxBytes"/>),
/// in queue order. The bus settles each message by its outcome only after the returned task has completed, so a
/// handler that commits its work before returning never has a message acknowledged ahead of its commit.
/// </summary>
/// <param name="messages">The batch, in queue order; the list and its messages stay valid after the handler returns.</param>
/// <param name="cancellationToken">Cancelled when the subscription is disposed.</param>
/// <returns>
/// One outcome per message, in the same order. A handler that throws settles every message of the batch as
/// <see cref="ConsumeOutcome.Retry"/>; one that ends with the cancellation of <paramref name="cancellationToken"/>
/// hands the whole batch back to the queue unsettled (a redelivery, not a failure).
/// </returns>
public delegate ValueTask<IReadOnlyList<ConsumeOutcome>> BatchMessageHandler(IReadOnlyList<BusMessage> messages, CancellationToken cancellationToken);

/// <summary>How a batch consumer takes messages.</summary>
/// <param name="MaxMessages">The most messages handed to the handler at once.</param>
/// <param name="MaxBytes">
/// The most body bytes handed at once; a batch always holds at least one message, however large.
/// </param>
/// <param name="Prefetch">
/// The most messages delivered to this consumer and not yet settled; 0 (the default) means twice
/// <paramref name="MaxMessages"/>, so the next batch gathers while one is handled. Otherwise at least
/// <paramref name="MaxMessages"/>.
/// </param>
/// <param name="MaxFailedAttempts">After this many failures a message goes to <c>&lt;queue&gt;.dead</c>.</param>
public sealed record BatchConsumerOptions(int MaxMessages = 64, int MaxBytes = 8 * 1024 * 1024, int Prefetch = 0, int MaxFailedAttempts = 5)
{
    /// <summary>The prefetch the consumer uses: <see cref="Prefetch"/>, or twice <see cref="MaxMessages"/> when 0.</summary>
    public int EffectivePrefetch => Prefetch == 0 ? Math.Min(ushort.MaxValue, 2 * MaxMessages) : Prefetch;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessages, 1, nameof(MaxMessages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxMessages, ushort.MaxValue, nameof(MaxMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, 1, nameof(MaxBytes));
        if (Prefetch != 0)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(Prefetch, MaxMessages, nameof(Prefetch));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(Prefetch, ushort.MaxValue, nameof(Prefetch));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFailedAttempts, 1, nameof(MaxFailedAttempts));
    }
}

/// <summary>How a consumer takes messages.</summary>
/// <param name="Prefetch">
/// The most messages delivered to this consumer and not yet settled (acknowledged, requeued or dead-lettered).
/// </param>
/// <param name="MaxFailedAttempts">After this many failures a message goes to <c>&lt;queue&gt;.dead</c>.</param>
public sealed record ConsumerOptions(int Prefetch = 2, int MaxFailedAttempts = 5)
{
    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Prefetch, 1, nameof(Prefetch));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Prefetch, ushort.MaxValue, nameof(Prefetch));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFailedAttempts, 1, nameof(MaxFailedAttempts));
    }
}

/// <summary>A running consumer. Disposing it stops delivery and returns unsettled messages to the queue.</summary>
public interface IBusSubscription : IAsyncDisposable
{
    /// <summary>The queue consumed.</summary>
    string Queue { get; }

    /// <summary>
    /// Completes when the subscription ends: normally after disposal, faulted with
    /// <see cref="ConsumerCancelledException"/> when the broker cancelled the consumer (its queue was deleted).
    /// </summary>
    Task Completion { get; }
}

/// <summary>The broker cancelled a consumer, typically because its queue was deleted.</summary>
public sealed class ConsumerCancelledException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ConsumerCancelledException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public ConsumerCancelledException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ConsumerCancelledException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A publish named a queue that does not exist (the broker returned the message).</summary>
public sealed class QueueNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QueueNotFoundException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public QueueNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public QueueNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
