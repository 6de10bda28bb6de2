namespace HtmEngine.Ingest;

/// <summary>
/// Live counters of one <see cref="GraphiteListener"/>, safe to read from any thread (engine stats, load harness).
/// Connections add to them once per received buffer, not per line, so reads may lag by one buffer.
/// </summary>
public sealed class GraphiteListenerCounters
{
    private readonly long[] _rejected = new long[GraphiteRejectReasons.Count];
    private long _accepted;
    private long _bytes;
    private long _connectionsOpen;
    private long _connectionsTotal;
    private long _datagrams;
    private long _delivered;
    private long _dropped;
    private long _batches;

    /// <summary>Lines parsed into samples and handed to the batching stage.</summary>
    public long LinesAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Lines rejected, all reasons.</summary>
    public long LinesRejected
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _rejected.Length; i++)
            {
                sum += Interlocked.Read(ref _rejected[i]);
            }

            return sum;
        }
    }

    /// <summary>Bytes received over TCP and UDP.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytes);

    /// <summary>TCP connections open now.</summary>
    public long ConnectionsOpen => Interlocked.Read(ref _connectionsOpen);

    /// <summary>TCP connections accepted since start.</summary>
    public long ConnectionsTotal => Interlocked.Read(ref _connectionsTotal);

    /// <summary>UDP datagrams received.</summary>
    public long DatagramsReceived => Interlocked.Read(ref _datagrams);

    /// <summary>Samples the sink has taken.</summary>
    public long SamplesDelivered => Interlocked.Read(ref _delivered);

    /// <summary>Samples lost because the sink failed or the shutdown timeout expired.</summary>
    public long SamplesDropped => Interlocked.Read(ref _dropped);

    /// <summary>Batches the sink has taken.</summary>
    public long BatchesDelivered => Interlocked.Read(ref _batches);

    /// <summary>Lines rejected for one reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public long GetLinesRejected(GraphiteRejectReason reason) => Interlocked.Read(ref _rejected[(int)reason]);

    internal void AddAccepted(long count) => Interlocked.Add(ref _accepted, count);

    internal void AddRejected(int reason, long count) => Interlocked.Add(ref _rejected[reason], count);

    internal void AddBytes(long count) => Interlocked.Add(ref _bytes, count);

    internal void AddDatagram() => Interlocked.Increment(ref _datagrams);

    internal void ConnectionOpened()
    {
        Interlocked.Increment(ref _connectionsOpen);
        Interlocked.Increment(ref _connectionsTotal);
    }

    internal void ConnectionClosed() => Interlocked.Decrement(ref _connectionsOpen);

    internal void AddDelivered(long count)
    {
        Interlocked.Add(ref _delivered, count);
        Interlocked.Increment(ref _batches);
    }

    internal void AddDropped(long count) => Interlocked.Add(ref _dropped, count);
}
