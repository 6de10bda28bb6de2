using System.Buffers;

namespace HtmEngine.Ingest;

/// <summary>
/// The per-stream half of ingestion (one per TCP connection, one for UDP): parses buffers into a pooled chunk,
/// resolves names, counts rejections locally and adds them to the shared counters once per buffer.
/// </summary>
internal sealed class SampleProducer
{
    private readonly SampleBatcher _batcher;
    private readonly MetricNameTable _names;
    private readonly GraphiteListenerCounters _counters;
    private readonly RejectionLogLimiter _rejectionLog;
    private readonly long[] _rejected = new long[GraphiteRejectReasons.Count];
    private readonly string _remote;
    private GraphiteParserState _state;
    private MetricSampleBatch _chunk;
    private bool _anyRejected;

    public SampleProducer(SampleBatcher batcher, MetricNameTable names, GraphiteListenerCounters counters, RejectionLogLimiter rejectionLog, GraphiteListenerOptions options, string remote)
    {
        _batcher = batcher;
        _names = names;
        _counters = counters;
        _rejectionLog = rejectionLog;
        _remote = remote;
        _state = new GraphiteParserState(options.MaxLineLength, options.MaxNameLength);
        _chunk = batcher.RentChunk();
    }

    public bool HasPendingSamples => _chunk.Count > 0;

    /// <summary>
    /// Parses complete lines until the buffer is used up or as many lines as the chunk has room for were parsed
    /// (then <paramref name="chunkFull"/> is set: publish, then call again with the rest). With
    /// <paramref name="isFinal"/>, an unterminated rest is rejected. Returns how far the buffer was consumed.
    /// </summary>
    public SequencePosition Parse(in ReadOnlySequence<byte> buffer, bool isFinal, out bool chunkFull)
    {
        _state.NowSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var reader = new SequenceReader<byte>(buffer);
        var handler = new Handler(this);
        // Each line yields at most one sample, so parsing as many lines as the chunk has room for cannot overflow it.
        // Stopping at that limit means more lines may follow: the caller publishes and calls again.
        int room = _chunk.Capacity - _chunk.Count;
        chunkFull = GraphiteParser.ParseLines(ref reader, ref _state, ref handler, room) == room;

        if (!chunkFull && isFinal)
        {
            GraphiteParser.Complete(ref reader, ref _state, ref handler);
        }

        if (_anyRejected)
        {
            FlushRejections();
        }

        return reader.Position;
    }

    /// <summary>Hands the current chunk (if any) to the batching stage; waits while its queue is full.</summary>
    public async ValueTask PublishAsync(CancellationToken abort)
    {
        MetricSampleBatch chunk = _chunk;
        int count = chunk.Count;
        if (count == 0)
        {
            return;
        }

        await _batcher.PublishAsync(chunk, abort).ConfigureAwait(false);
        _counters.AddAccepted(count);
        _chunk = _batcher.RentChunk();
    }

    private void FlushRejections()
    {
        for (int i = 0; i < _rejected.Length; i++)
        {
            if (_rejected[i] != 0)
            {
                _counters.AddRejected(i, _rejected[i]);
                _rejected[i] = 0;
            }
        }

        _anyRejected = false;
    }

    private readonly struct Handler(SampleProducer producer) : IGraphiteLineHandler
    {
        public void OnSample(ReadOnlySpan<byte> name, double value, long timestampSeconds)
        {
            int id = producer._names.GetOrAdd(name);
            if (id < 0)
            {
                OnRejected(GraphiteRejectReason.NameTableFull, name);
                return;
            }

            producer._chunk.TryAdd(new MetricSample(id, value, timestampSeconds));
        }

        public void OnRejected(GraphiteRejectReason reason, ReadOnlySpan<byte> line)
        {
            producer._rejected[(int)reason]++;
            producer._anyRejected = true;
            producer._rejectionLog.Report(reason, line, producer._remote);
        }
    }
}
