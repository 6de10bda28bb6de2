using System.Numerics;

namespace HtmEngine.Core.Sdr;

/// <summary>
/// Scalar reference versions of the <see cref="BitKernels"/> operations: the obvious word-at-a-time loops that the
/// SIMD paths are checked against (property tests) and that run when no vector unit is available or the scalar
/// path is forced.
/// </summary>
internal static class BitKernelsReference
{
    public static int PopCount(ReadOnlySpan<ulong> words)
    {
        int count = 0;
        for (int i = 0; i < words.Length; i++)
        {
            count += BitOperations.PopCount(words[i]);
        }

        return count;
    }

    public static int AndPopCount(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        int count = 0;
        for (int i = 0; i < a.Length; i++)
        {
            count += BitOperations.PopCount(a[i] & b[i]);
        }

        return count;
    }

    public static void And(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination)
    {
        for (int i = 0; i < a.Length; i++)
        {
            destination[i] = a[i] & b[i];
        }
    }

    public static void Or(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination)
    {
        for (int i = 0; i < a.Length; i++)
        {
            destination[i] = a[i] | b[i];
        }
    }

    public static void AndPopCountRows(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> rows, Span<int> overlaps)
    {
        int width = input.Length;
        for (int r = 0; r < overlaps.Length; r++)
        {
            overlaps[r] = AndPopCount(input, rows.Slice(r * width, width));
        }
    }
}
