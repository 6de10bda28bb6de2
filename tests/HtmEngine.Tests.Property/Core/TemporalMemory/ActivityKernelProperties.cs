using FsCheck.Xunit;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Tests.Property.Core.TemporalMemory;

/// <summary>The vector scan for qualifying segments against its scalar reference.</summary>
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
}
