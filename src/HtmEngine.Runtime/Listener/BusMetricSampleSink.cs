using System.Buffers;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Runtime.Listener;

/// <summary>
/// Hands the listener's batches to the metric data queue: one message per batch, encoded with
/// <see cref="SampleBatchCodec"/> and marked with its content type, published persistent and awaited until the bus
/// confirms it. Because the listener waits for each call, a slow or unreachable broker slows the sockets instead of
/// growing memory (backpressure).
/// </summary>
/// <remarks>
/// A batch is never given up while the listener waits for it: a missing queue is declared and the batch published
/// again (as the original listener did); any other failure is logged and retried with a back-off (100 ms doubling up to
/// <see cref="MaxRetryDelay"/>) under the same message id, so a copy that did reach the queue is recognisable as a
/// duplicate. Only the cancellation token (the listener's shutdown timeout) ends the retries; the listener then counts
/// the batch as dropped.
/// </remarks>
public sealed class BusMetricSampleSink : IMetricSampleSink
{
    private static readonly TimeSpan s_firstRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly IMessageBus _bus;
    private readonly string _queue;
    private readonly ILogger _logger;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly SampleBatchEncoder _encoder = new();
    private readonly OutgoingMessage[] _single = new OutgoingMessage[1];
    private long _batches;
    private long _samples;
    private long _failures;

    /// <summary>Creates the sink.</summary>
    /// <param name="bus">The bus to publish on.</param>
    /// <param name="queueName">The metric data queue (<c>[metric_listener] queue_name</c>).</param>
    /// <param name="logger">Logger; none when null.</param>
    public BusMetricSampleSink(IMessageBus bus, string queueName, ILogger<BusMetricSampleSink>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentException.ThrowIfNullOrEmpty(queueName);
        _bus = bus;
        _queue = queueName;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The queue published to.</summary>
    public string QueueName => _queue;

    /// <summary>The longest wait between two attempts to publish one batch (default 5 s).</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Batches confirmed by the bus.</summary>
    public long BatchesPublished => Interlocked.Read(ref _batches);

    /// <summary>Samples in confirmed batches.</summary>
    public long SamplesPublished => Interlocked.Read(ref _samples);

    /// <summary>Failed publish attempts (each was retried).</summary>
    public long PublishFailures => Interlocked.Read(ref _failures);

    /// <inheritdoc />
    public async ValueTask WriteAsync(MetricSampleBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int count = batch.Count;
        if (count == 0)
        {
            return;
        }

        // A bus reads the body only during the publish call (IMessageBus contract), so one buffer serves every batch.
        _buffer.ResetWrittenCount();
        _encoder.Encode(batch, _buffer);
        var message = new OutgoingMessage(_buffer.WrittenMemory, Guid.NewGuid().ToString("N"), ContentType: SampleBatchCodec.ContentType);
        _single[0] = message;
        TimeSpan delay = s_firstRetryDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await _bus.PublishToQueueAsync(_queue, _single, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (QueueNotFoundException) when (attempt == 1)
            {
                ListenerLog.QueueMissing(_logger, _queue, count);
                Interlocked.Increment(ref _failures);
                await _bus.DeclareQueueAsync(_queue, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failures);
                ListenerLog.PublishFailed(_logger, ex, _queue, count, attempt, (long)delay.TotalMilliseconds);
                if (ex is QueueNotFoundException)
                {
                    await _bus.DeclareQueueAsync(_queue, cancellationToken).ConfigureAwait(false);
                }

                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }

        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _samples, count);
    }
}
