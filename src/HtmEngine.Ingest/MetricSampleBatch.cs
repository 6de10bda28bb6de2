namespace HtmEngine.Ingest;

/// <summary>
/// A reusable, fixed-capacity batch of samples whose names are ids in <see cref="Names"/>. Batches are pooled: whoever
/// receives one (an <see cref="IMetricSampleSink"/>) may read it only until its call completes.
/// </summary>
public sealed class MetricSampleBatch
{
    private readonly MetricSample[] _samples;
    private int _count;

    /// <summary>Creates an empty batch.</summary>
    /// <param name="names">The table the sample name ids refer to.</param>
    /// <param name="capacity">The most samples it holds.</param>
    public MetricSampleBatch(MetricNameTable names, int capacity)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Names = names;
        _samples = new MetricSample[capacity];
    }

    /// <summary>The table that resolves <see cref="MetricSample.NameId"/>.</summary>
    public MetricNameTable Names { get; }

    /// <summary>The number of samples held.</summary>
    public int Count => _count;

    /// <summary>The most samples the batch holds.</summary>
    public int Capacity => _samples.Length;

    /// <summary>True when no more samples fit.</summary>
    public bool IsFull => _count == _samples.Length;

    /// <summary>The samples, in arrival order (per connection).</summary>
    public ReadOnlySpan<MetricSample> Samples => _samples.AsSpan(0, _count);

    /// <summary>The metric name of a sample in this batch.</summary>
    /// <param name="sample">A sample of this batch.</param>
    /// <returns>The interned name.</returns>
    public string GetName(in MetricSample sample) => Names.GetName(sample.NameId);

    /// <summary>Appends a sample.</summary>
    /// <param name="sample">The sample.</param>
    /// <returns>False (and nothing added) when the batch is full.</returns>
    public bool TryAdd(in MetricSample sample)
    {
        int count = _count;
        if ((uint)count >= (uint)_samples.Length)
        {
            return false;
        }

        _samples[count] = sample;
        _count = count + 1;
        return true;
    }

    /// <summary>Appends as many samples as fit.</summary>
    /// <param name="samples">The samples to copy.</param>
    /// <returns>The number copied.</returns>
    public int AddRange(ReadOnlySpan<MetricSample> samples)
    {
        int n = Math.Min(samples.Length, _samples.Length - _count);
        samples[..n].CopyTo(_samples.AsSpan(_count));
        _count += n;
        return n;
    }

    /// <summary>Empties the batch for reuse.</summary>
    public void Clear() => _count = 0;
}
