using FsCheck.Xunit;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Tests.Property.Core.TemporalMemory;

/// <summary>The vector scans for qualifying segments against their scalar references.</summary>
public class ActivityKernelProperties
{
    [Property(MaxTest = 300)]
    public bool ScanAtLeast_equals_the_reference(ushort[] counters, byte threshold, bool sparse)
    {
        // Lengths straddle the vector widths; sparse cases keep most low bytes under the threshold, and the high
        // bytes (connected counts) are random so that only the low byte may decide.
        int t = Math.Max((int)threshold, 1);
        if (sparse)
        {
            for (int i = 0; i < counters.Length; i++)
            {
                counters[i] = (ushort)((counters[i] & 0xFF00) | ((counters[i] & 0xFF) % (t + 2)));
            }
        }

        var expected = new int[counters.Length];
        var actual = new int[counters.Length];
        int n = ActivityKernels.ScanAtLeastReference(counters, t, expected);
        int m = ActivityKernels.ScanAtLeast(counters, t, actual);
        return n == m && expected.AsSpan(0, n).SequenceEqual(actual.AsSpan(0, m));
    }

    [Property(MaxTest = 300)]
    public bool ScanAtLeastClearingBelow_equals_the_reference(ushort[] counters, byte threshold, bool sparse)
    {
        // The same ids as the plain scan, and the counters left behind equal too: the qualifying ones untouched
        // (high byte included), every other one 0.
        int t = Math.Max((int)threshold, 1);
        if (sparse)
        {
            for (int i = 0; i < counters.Length; i++)
            {
                counters[i] = (ushort)((counters[i] & 0xFF00) | ((counters[i] & 0xFF) % (t + 2)));
            }
        }

        ushort[] expectedCounters = (ushort[])counters.Clone();
        ushort[] actualCounters = (ushort[])counters.Clone();
        var expected = new int[counters.Length];
        var actual = new int[counters.Length];
        int n = ActivityKernels.ScanAtLeastClearingBelowReference(expectedCounters, t, expected);
        int m = ActivityKernels.ScanAtLeastClearingBelow(actualCounters, t, actual);
        return n == m
            && expected.AsSpan(0, n).SequenceEqual(actual.AsSpan(0, m))
            && expectedCounters.AsSpan().SequenceEqual(actualCounters);
    }
}
