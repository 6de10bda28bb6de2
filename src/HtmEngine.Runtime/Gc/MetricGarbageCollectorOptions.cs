namespace HtmEngine.Runtime.Gc;

/// <summary>
/// The metric garbage collector (<c>application.conf [metric_garbage_collector]</c>): which <c>metric_data</c> rows are
/// old enough to go, how often to look, and how many rows one transaction deletes.
/// </summary>
/// <param name="ThresholdDays">Rows whose timestamp is more than this many days before now may be deleted.</param>
/// <param name="Interval">Pause between passes.</param>
/// <param name="BatchSize">Rows deleted per transaction.</param>
/// <param name="KeepNewestScored">
/// Newest scored rows of a metric that always stay, whatever their age: the likelihood's refreshes read them
/// (<c>[anomaly_likelihood] statistics_sample_size</c>).
/// </param>
public sealed record MetricGarbageCollectorOptions(double ThresholdDays, TimeSpan Interval, int BatchSize, int KeepNewestScored)
{
    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (!(ThresholdDays > 0) || !double.IsFinite(ThresholdDays))
        {
            throw new ArgumentOutOfRangeException(nameof(ThresholdDays), ThresholdDays, "threshold_days must be a positive number of days");
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Interval, TimeSpan.Zero, nameof(Interval));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegative(KeepNewestScored, nameof(KeepNewestScored));
    }
}
