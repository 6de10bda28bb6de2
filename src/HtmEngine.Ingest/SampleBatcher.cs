using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Ingest;

/// <summary>
/// The batching stage between connections and the sink. Connections fill pooled chunks and queue them on a bounded
/// channel (waiting when it is full: that wait is the backpressure that stops socket reads). One loop copies chunks
/// into the outgoing batch and hands it to the sink when it holds <c>MaxBatchSize</c> samples or when its first
/// sample has waited <c>FlushDelay</c>, whichever comes first. Completing the stage flushes everything queued.
/// </summary>
internal sealed class SampleBatcher
{
    private readonly Channel<MetricSampleBatch> _queue;
    private readonly ConcurrentQueue<MetricSampleBatch> _pool = new();
    private readonly MetricNameTable _names;
    private readonly IMetricSampleSink _sink;
    private readonly GraphiteListenerCounters _counters;
    private readonly ILogger _logger;
    private readonly int _chunkSize;
    private readonly int _maxBatchSize;
    private readonly TimeSpan _flushDelay;
    private Task _loop = Task.CompletedTask;

    public SampleBatcher(MetricNameTable names, IMetricSampleSink sink, GraphiteListenerCounters counters, GraphiteListenerOptions options, ILogger logger)
    {
        _names = names;
        _sink = sink;
        _counters = counters;
        _logger = logger;
        _chunkSize = options.ChunkSize;
        _maxBatchSize = options.MaxBatchSize;
        _flushDelay = options.FlushDelay;
        _queue = Channel.CreateBounded<MetricSampleBatch>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Samples queued but not yet handed to the sink (approximate).</summary>
    public int QueuedChunks => _queue.Reader.Count;

    public MetricSampleBatch RentChunk() => _pool.TryDequeue(out MetricSampleBatch? chunk) ? chunk : new MetricSampleBatch(_names, _chunkSize);

    /// <summary>Queues a chunk; waits while the queue is full. Ownership passes to the batcher.</summary>
    public ValueTask PublishAsync(MetricSampleBatch chunk, CancellationToken cancellationToken) =>
        _queue.Writer.WriteAsync(chunk, cancellationToken);

    public void Start(CancellationToken abort) => _loop = Task.Run(() => RunAsync(abort), CancellationToken.None);

    /// <summary>No more chunks will come: flush what is queued and finish.</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _loop;
    }

    private async Task RunAsync(CancellationToken abort)
    {
        var batch = new MetricSampleBatch(_names, _maxBatchSize);
        ChannelReader<MetricSampleBatch> reader = _queue.Reader;
        long firstSampleTicks = 0;
        Task<bool>? waiting = null;
        while (true)
        {
            while (reader.TryRead(out MetricSampleBatch? chunk))
            {
                int offset = 0;
                while (offset < chunk.Count)
                {
                    if (batch.Count == 0)
                    {
                        firstSampleTicks = Stopwatch.GetTimestamp();
                    }

                    offset += batch.AddRange(chunk.Samples[offset..]);
                    if (batch.IsFull)
                    {
                        await DeliverAsync(batch, abort).ConfigureAwait(false);
                    }
                }

                chunk.Clear();
                _pool.Enqueue(chunk);
            }

            waiting ??= reader.WaitToReadAsync(CancellationToken.None).AsTask();
            if (batch.Count > 0 && !waiting.IsCompleted)
            {
                TimeSpan remaining = _flushDelay - Stopwatch.GetElapsedTime(firstSampleTicks);
                if (remaining > TimeSpan.Zero)
                {
                    await Task.WhenAny(waiting, Task.Delay(remaining, CancellationToken.None)).ConfigureAwait(false);
                }

                if (!waiting.IsCompleted)
                {
                    await DeliverAsync(batch, abort).ConfigureAwait(false);
                }

                continue;
            }

            bool more = await waiting.ConfigureAwait(false);
            waiting = null;
            if (!more)
            {
                break;
            }
        }

        if (batch.Count > 0)
        {
            await DeliverAsync(batch, abort).ConfigureAwait(false);
        }
    }

    private async ValueTask DeliverAsync(MetricSampleBatch batch, CancellationToken abort)
    {
        int count = batch.Count;
        try
        {
            await _sink.WriteAsync(batch, abort).ConfigureAwait(false);
            _counters.AddDelivered(count);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The listener outlives a failing sink: the batch is counted as dropped and logged.
            _counters.AddDropped(count);
            IngestLog.SinkFailed(_logger, ex, count);
        }
        finally
        {
            batch.Clear();
        }
    }
}
