namespace HtmEngine.Core.Anomaly;

/// <summary>
/// numpy's float64 <c>mean</c> and <c>var</c> reproduced bit for bit: numpy sums a contiguous float64 array
/// with pairwise summation (8 interleaved accumulators in blocks of at most 128, halves split on multiples of 8),
/// divides by the count for the mean, and for the (population) variance sums the squared deviations from that
/// mean the same way. A plain left-to-right loop would differ in the last bits, which the likelihood's
/// thresholds can expose.
/// </summary>
public static class NumpyReductions
{
    private const int BlockSize = 128;

    /// <summary>numpy's <c>add.reduce</c> over a contiguous float64 array (0 for an empty span).</summary>
    public static double Sum(ReadOnlySpan<double> values) => 0.0 + PairwiseSum(values);

    /// <summary>numpy's <c>mean</c>: the pairwise sum divided by the count. NaN for an empty span.</summary>
    public static double Mean(ReadOnlySpan<double> values) => Sum(values) / values.Length;

    /// <summary>numpy's <c>var</c> (ddof 0): mean of the squared deviations from <see cref="Mean"/>.</summary>
    public static double PopulationVariance(ReadOnlySpan<double> values) => PopulationVariance(values, Mean(values));

    /// <summary>numpy's <c>var</c> (ddof 0) given the numpy mean already computed for the same values.</summary>
    public static double PopulationVariance(ReadOnlySpan<double> values, double mean)
        => (0.0 + PairwiseSquaredDeviations(values, mean)) / values.Length;

    private static double PairwiseSum(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double res = 0.0;
            for (int i = 0; i < n; i++)
            {
                res += a[i];
            }

            return res;
        }

        if (n <= BlockSize)
        {
            double r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            int i = 8;
            int whole = n - (n % 8);
            for (; i < whole; i += 8)
            {
                r0 += a[i];
                r1 += a[i + 1];
                r2 += a[i + 2];
                r3 += a[i + 3];
                r4 += a[i + 4];
                r5 += a[i + 5];
                r6 += a[i + 6];
                r7 += a[i + 7];
            }

            double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++)
            {
                res += a[i];
            }

            return res;
        }

        int n2 = n / 2;
        n2 -= n2 % 8;
        return PairwiseSum(a[..n2]) + PairwiseSum(a[n2..]);
    }

    // Same association as PairwiseSum over the array (a[i] − mean)², which numpy materialises first; computing
    // each square on the fly yields the identical doubles without the temporary array.
    private static double PairwiseSquaredDeviations(ReadOnlySpan<double> a, double mean)
    {
        int n = a.Length;
        if (n < 8)
        {
            double res = 0.0;
            for (int i = 0; i < n; i++)
            {
                double d = a[i] - mean;
                res += d * d;
            }

            return res;
        }

        if (n <= BlockSize)
        {
            double d0 = a[0] - mean, d1 = a[1] - mean, d2 = a[2] - mean, d3 = a[3] - mean;
            double d4 = a[4] - mean, d5 = a[5] - mean, d6 = a[6] - mean, d7 = a[7] - mean;
            double r0 = d0 * d0, r1 = d1 * d1, r2 = d2 * d2, r3 = d3 * d3;
            double r4 = d4 * d4, r5 = d5 * d5, r6 = d6 * d6, r7 = d7 * d7;
            int i = 8;
            int whole = n - (n % 8);
            for (; i < whole; i += 8)
            {
                d0 = a[i] - mean;
                d1 = a[i + 1] - mean;
                d2 = a[i + 2] - mean;
                d3 = a[i + 3] - mean;
                d4 = a[i + 4] - mean;
                d5 = a[i + 5] - mean;
                d6 = a[i + 6] - mean;
                d7 = a[i + 7] - mean;
                r0 += d0 * d0;
                r1 += d1 * d1;
                r2 += d2 * d2;
                r3 += d3 * d3;
                r4 += d4 * d4;
                r5 += d5 * d5;
                r6 += d6 * d6;
                r7 += d7 * d7;
            }

            double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++)
            {
                double d = a[i] - mean;
                res += d * d;
            }

            return res;
        }

        int n2 = n / 2;
        n2 -= n2 % 8;
        return PairwiseSquaredDeviations(a[..n2], mean) + PairwiseSquaredDeviations(a[n2..], mean);
    }
}
