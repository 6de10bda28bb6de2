namespace HtmEngine.Core.Anomaly;

/// <summary>The raw anomaly score of one step (htm-algorithm.md §1.7, §2.7).</summary>
public static class RawAnomaly
{
    /// <summary>
    /// (|A| − |A ∩ P|) / |A| where A is the set of active columns now and P the columns predicted by the previous
    /// step; 0 when no column is active.
    /// </summary>
    /// <param name="activeCount">|A|, the number of active columns.</param>
    /// <param name="predictedActiveCount">|A ∩ P|, how many of them were predicted.</param>
    public static double Compute(int activeCount, int predictedActiveCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(activeCount);
        ArgumentOutOfRangeException.ThrowIfNegative(predictedActiveCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(predictedActiveCount, activeCount);
        if (activeCount == 0)
        {
            return 0.0;
        }

        return (double)(activeCount - predictedActiveCount) / activeCount;
    }

    /// <summary>
    /// The raw score as NuPIC's TM region outputs it: <see cref="Compute"/> rounded to float32 (the region's output
    /// array is float32), widened back to double. Feed this to <see cref="NabAnomalyLikelihood"/> to reproduce
    /// NAB's published scores (checked to the 12 digits the result files print).
    /// </summary>
    public static double ComputeAsRegionOutput(int activeCount, int predictedActiveCount) => (float)Compute(activeCount, predictedActiveCount);
}
