namespace HtmEngine.Ingest;

/// <summary>
/// A sink that counts what it receives and optionally keeps it; it can be paused to act as a stalled downstream.
/// Used by tests and by the load harness.
/// </summary>
public sealed class InMemoryMetricSampleSink : IMetricSampleSink
{
    private readonly Lock _gate = new();
    private readonly List<ReceivedSample>? _kept;
    private TaskCompletionSource? _paused;
    private long _samples;
    private long _batches;

    /// <summary>Creates the sink.</summary>
    /// <param name="keepSamples">Keep every sample (with its name resolved) for inspection; off for load tests.</param>
    public InMemoryMetricSampleSink(bool keepSamples = false)
    {
        _kept = keepSamples ? [] : null;
    }

    /// <summary>Samples received so far.</summary>
    public long SampleCount => Interlocked.Read(ref _samples);

    /// <summary>Batches received so far.</summary>
    public long BatchCount => Interlocked.Read(ref _batches);

    /// <summary>A copy of the kept samples (empty unless created with <c>keepSamples</c>).</summary>
    /// <returns>The samples in arrival order.</returns>
    public IReadOnlyList<ReceivedSample> Snapshot()
    {
        lock (_gate)
        {
            return _kept is null ? [] : [.. _kept];
        }
    }

    /// <summary>Makes further <see cref="WriteAsync"/> calls wait until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_gate)
        {
            _paused ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Releases a <see cref="Pause"/>.</summary>
    public void Resume()
    {
        TaskCompletionSource? paused;
        lock (_gate)
        {
            paused = _paused;
            _paused = null;
        }

        paused?.TrySetResult();
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(MetricSampleBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Task? paused;
        lock (_gate)
        {
            paused = _paused?.Task;
        }

        if (paused is not null)
        {
            await paused.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_kept is not null)
        {
            lock (_gate)
            {
                foreach (MetricSample sample in batch.Samples)
                {
                    _kept.Add(new ReceivedSample(batch.GetName(sample), sample.Value, sample.TimestampSeconds));
                }
            }
        }

        Interlocked.Add(ref _samples, batch.Count);
        Interlocked.Increment(ref _batches);
    }
}

/// <summary>A sample with its name resolved, as kept by <see cref="InMemoryMetricSampleSink"/> and returned by decoders.</summary>
/// <param name="Name">The metric name.</param>
/// <param name="Value">The value.</param>
/// <param name="TimestampSeconds">Seconds since the Unix epoch.</param>
public readonly record struct ReceivedSample(string Name, double Value, long TimestampSeconds);
