namespace HtmEngine.Storage;

/// <summary>What happened to one sample of a <see cref="IMetricRepository.StoreSamplesAsync"/> call.</summary>
public enum SampleOutcome : byte
{
    /// <summary>Stored with the next rowid.</summary>
    Stored,

    /// <summary>
    /// Not stored: its timestamp equals the previous one (a re-delivery of data already in the
    /// table). A retry inside one call after a commit whose acknowledgement was lost is recognised
    /// and reported as <see cref="Stored"/> with the rowids that commit gave.
    /// </summary>
    Duplicate,

    /// <summary>Not stored: its timestamp is older than the previous one (htmengine has no reorder window).</summary>
    OutOfOrder,

    /// <summary>Not stored: the value is NaN or infinite (htmengine lost the whole batch on these).</summary>
    InvalidValue,

    /// <summary>Not stored: the metric is in <see cref="MetricStatus.Error"/>, where htmengine stores nothing.</summary>
    MetricInError,
}

/// <summary>
/// The committed outcome of storing a batch of samples for one metric. Stored samples have
/// contiguous rowids in sample order: the k-th stored sample has rowid <see cref="FirstRowid"/> + k.
/// </summary>
public sealed class StoreSamplesResult
{
    /// <summary>Creates a result.</summary>
    public StoreSamplesResult(MetricStatus status, long firstRowid, int storedCount, SampleOutcome[] outcomes)
    {
        Status = status;
        FirstRowid = firstRowid;
        StoredCount = storedCount;
        Outcomes = outcomes;
    }

    /// <summary>The metric's status read under the row lock, before the insert (decides what the storer does next).</summary>
    public MetricStatus Status { get; }

    /// <summary>Rowid of the first stored sample (meaningless when <see cref="StoredCount"/> is 0).</summary>
    public long FirstRowid { get; }

    /// <summary>Number of samples stored.</summary>
    public int StoredCount { get; }

    /// <summary>Rowid of the last stored sample, or <see cref="FirstRowid"/> − 1 when nothing was stored.</summary>
    public long LastRowid => FirstRowid + StoredCount - 1;

    /// <summary>One outcome per input sample, in input order.</summary>
    public IReadOnlyList<SampleOutcome> Outcomes { get; }
}
