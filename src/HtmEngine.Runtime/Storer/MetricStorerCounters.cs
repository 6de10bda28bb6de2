using HtmEngine.Ingest;

namespace HtmEngine.Runtime.Storer;

/// <summary>Why the storer did not store a sample or a line.</summary>
public enum StorerRejectReason
{
    /// <summary>Its timestamp equals the metric's previous one (a re-delivery).</summary>
    Duplicate,

    /// <summary>Its timestamp is older than the metric's previous one.</summary>
    OutOfOrder,

    /// <summary>Its value is NaN or infinite.</summary>
    InvalidValue,

    /// <summary>A JSON line that does not parse as Graphite (the per-reason counts are in <see cref="MetricStorerCounters.RejectedLines"/>).</summary>
    BadLine,

    /// <summary>Its metric could not be created or stored (for example a name the database refuses).</summary>
    MetricFailed,
}

/// <summary>
/// The storer's counters, for logs and the <c>/metrics</c> endpoint. Written by the storer, readable from any thread.
/// </summary>
public sealed class MetricStorerCounters
{
    /// <summary>Number of values of <see cref="StorerRejectReason"/>.</summary>
    public const int RejectReasonCount = 5;

    private readonly long[] _rejected = new long[RejectReasonCount];
    private readonly long[] _rejectedLines = new long[GraphiteRejectReasons.Count];
    private long _messages;
    private long _messagesAcked;
    private long _messagesDeadLettered;
    private long _samplesReceived;
    private long _samplesStored;
    private long _rowsForwarded;
    private long _metricsCreated;
    private long _activations;
    private long _retries;

    /// <summary>Messages delivered to the storer (a redelivery counts again).</summary>
    public long Messages => Volatile.Read(ref _messages);

    /// <summary>Messages acknowledged after their rows were committed and forwarded.</summary>
    public long MessagesAcked => Volatile.Read(ref _messagesAcked);

    /// <summary>Messages dead-lettered because they could not be decoded.</summary>
    public long MessagesDeadLettered => Volatile.Read(ref _messagesDeadLettered);

    /// <summary>Samples decoded from messages.</summary>
    public long SamplesReceived => Volatile.Read(ref _samplesReceived);

    /// <summary>Samples committed to <c>metric_data</c>.</summary>
    public long SamplesStored => Volatile.Read(ref _samplesStored);

    /// <summary>Row requests confirmed on shard queues.</summary>
    public long RowsForwarded => Volatile.Read(ref _rowsForwarded);

    /// <summary>Metrics the storer created for unknown names.</summary>
    public long MetricsCreated => Volatile.Read(ref _metricsCreated);

    /// <summary>PENDING_DATA metrics the storer activated.</summary>
    public long Activations => Volatile.Read(ref _activations);

    /// <summary>Attempts repeated after a transient storage or bus failure.</summary>
    public long Retries => Volatile.Read(ref _retries);

    /// <summary>Samples or lines not stored, by reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public long Rejected(StorerRejectReason reason) => Volatile.Read(ref _rejected[(int)reason]);

    /// <summary>JSON lines that did not parse, by the parser's reason (their sum is <see cref="StorerRejectReason.BadLine"/>).</summary>
    /// <param name="reason">The parser's reason.</param>
    /// <returns>The count.</returns>
    public long RejectedLines(GraphiteRejectReason reason) => Volatile.Read(ref _rejectedLines[(int)reason]);

    /// <summary>The sum of every rejection reason.</summary>
    public long RejectedTotal
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _rejected.Length; i++)
            {
                sum += Volatile.Read(ref _rejected[i]);
            }

            return sum;
        }
    }

    internal void AddMessage() => Interlocked.Increment(ref _messages);

    internal void AddAcked() => Interlocked.Increment(ref _messagesAcked);

    internal void AddDeadLettered() => Interlocked.Increment(ref _messagesDeadLettered);

    internal void AddReceived(long n) => Interlocked.Add(ref _samplesReceived, n);

    internal void AddStored(long n) => Interlocked.Add(ref _samplesStored, n);

    internal void AddForwarded(long n) => Interlocked.Add(ref _rowsForwarded, n);

    internal void AddCreated() => Interlocked.Increment(ref _metricsCreated);

    internal void AddActivation() => Interlocked.Increment(ref _activations);

    internal void AddRetry() => Interlocked.Increment(ref _retries);

    internal void AddRejected(StorerRejectReason reason, long n) => Interlocked.Add(ref _rejected[(int)reason], n);

    internal void AddRejectedLine(GraphiteRejectReason reason)
    {
        Interlocked.Increment(ref _rejectedLines[(int)reason]);
        Interlocked.Increment(ref _rejected[(int)StorerRejectReason.BadLine]);
    }
}
