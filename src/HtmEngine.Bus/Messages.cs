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
