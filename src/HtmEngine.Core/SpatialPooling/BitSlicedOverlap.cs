using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HtmEngine.Core.SpatialPooling;

/// <summary>
/// Overlap and global inhibition for sparse inputs, computed on a transposed connected matrix (one bit row of
/// columns per input) with bit-sliced counters: every active input adds its column row into eight bit planes
/// (a ripple-carry adder over 256 columns per AVX2 vector), so the work is (active inputs × columns / 256) vector
/// steps instead of (columns × input words). The winners are then read off the planes with bit-sliced comparisons:
/// a binary search for the threshold overlap, all columns above it, and the highest-index columns equal to it.
/// </summary>
/// <remarks>Holds at most 255 per column (8 planes); the pooler falls back to the row kernel beyond that.</remarks>
internal static class BitSlicedOverlap
{
    public const int Planes = 8;
    public const int MaxCount = (1 << Planes) - 1;

    /// <summary>
    /// Sums the transposed rows of the active inputs into <paramref name="planes"/> (plane k of word w at
    /// k × words + w). <paramref name="words"/> is a multiple of 4.
    /// </summary>
    public static void Accumulate(ReadOnlySpan<ulong> transposed, int words, ReadOnlySpan<int> activeInputs, Span<ulong> planes)
    {
        ref ulong t = ref MemoryMarshal.GetReference(transposed);
        ref ulong p = ref MemoryMarshal.GetReference(planes);
        for (int w = 0; w < words; w += 4)
        {
            Vector256<ulong> p0 = default, p1 = default, p2 = default, p3 = default;
            Vector256<ulong> p4 = default, p5 = default, p6 = default, p7 = default;
            for (int a = 0; a < activeInputs.Length; a++)
            {
                Vector256<ulong> x = Vector256.LoadUnsafe(ref t, (nuint)((activeInputs[a] * words) + w));
                Vector256<ulong> carry = p0 & x;
                p0 ^= x;
                x = p1 & carry;
                p1 ^= carry;
                carry = p2 & x;
                p2 ^= x;
                x = p3 & carry;
                p3 ^= carry;
                carry = p4 & x;
                p4 ^= x;
                x = p5 & carry;
                p5 ^= carry;
                carry = p6 & x;
                p6 ^= x;
                p7 ^= carry;
            }

            p0.StoreUnsafe(ref p, (nuint)w);
            p1.StoreUnsafe(ref p, (nuint)(words + w));
            p2.StoreUnsafe(ref p, (nuint)((2 * words) + w));
            p3.StoreUnsafe(ref p, (nuint)((3 * words) + w));
            p4.StoreUnsafe(ref p, (nuint)((4 * words) + w));
            p5.StoreUnsafe(ref p, (nuint)((5 * words) + w));
            p6.StoreUnsafe(ref p, (nuint)((6 * words) + w));
            p7.StoreUnsafe(ref p, (nuint)((7 * words) + w));
        }
    }

    /// <summary>
    /// Writes the mask of valid columns whose count is at least <paramref name="value"/> to <paramref name="mask"/>
    /// and returns how many there are.
    /// </summary>
    public static int AtLeast(ReadOnlySpan<ulong> planes, int words, int value, ReadOnlySpan<ulong> valid, Span<ulong> mask)
    {
        if (value > MaxCount)
        {
            mask[..words].Clear();
            return 0;
        }

        ref ulong p = ref MemoryMarshal.GetReference(planes);
        int count = 0;
        for (int w = 0; w < words; w += 4)
        {
            Vector256<ulong> greater = Vector256<ulong>.Zero;
            Vector256<ulong> equal = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(valid), (nuint)w);
            for (int k = Planes - 1; k >= 0; k--)
            {
                Vector256<ulong> plane = Vector256.LoadUnsafe(ref p, (nuint)((k * words) + w));
                if (((value >> k) & 1) != 0)
                {
                    equal &= plane;
                }
                else
                {
                    greater |= equal & plane;
                }
            }

            Vector256<ulong> result = greater | equal;
            result.StoreUnsafe(ref MemoryMarshal.GetReference(mask), (nuint)w);
            count += PopCount(result);
        }

        return count;
    }

    /// <summary>Mask of valid columns with a positive count (the OR of the planes).</summary>
    public static void Positive(ReadOnlySpan<ulong> planes, int words, ReadOnlySpan<ulong> valid, Span<ulong> mask)
    {
        for (int w = 0; w < words; w++)
        {
            ulong any = 0;
            for (int k = 0; k < Planes; k++)
            {
                any |= planes[(k * words) + w];
            }

            mask[w] = any & valid[w];
        }
    }

    /// <summary>The count of one column, read back from the planes.</summary>
    public static int CountOf(ReadOnlySpan<ulong> planes, int words, int column)
    {
        int value = 0;
        for (int k = 0; k < Planes; k++)
        {
            value |= (int)((planes[(k * words) + (column >> 6)] >> (column & 63)) & 1) << k;
        }

        return value;
    }

    /// <summary>
    /// Global inhibition on the planes: the <paramref name="wanted"/> highest counts at or above
    /// <paramref name="minimum"/>, ties to the higher column index. Leaves the winners' mask in
    /// <paramref name="winners"/> and returns their number.
    /// </summary>
    public static int SelectWinners(ReadOnlySpan<ulong> planes, int words, int wanted, int minimum, int maximum, ReadOnlySpan<ulong> valid, Span<ulong> winners, Span<ulong> scratch)
    {
        int eligible = AtLeast(planes, words, minimum, valid, winners);
        if (eligible <= wanted)
        {
            return eligible;
        }

        // Largest threshold whose at-least count still reaches `wanted`: counts are in [minimum, maximum].
        int low = minimum;
        int high = Math.Min(maximum, MaxCount) + 1;
        while (high - low > 1)
        {
            int middle = (low + high) >> 1;
            if (AtLeast(planes, words, middle, valid, scratch) >= wanted)
            {
                low = middle;
            }
            else
            {
                high = middle;
            }
        }

        int above = AtLeast(planes, words, low + 1, valid, scratch);     // strictly above the threshold: all win
        AtLeast(planes, words, low, valid, winners);                      // at least the threshold
        int need = wanted - above;
        for (int w = words - 1; w >= 0; w--)
        {
            ulong ties = winners[w] & ~scratch[w];
            // Keep only the `need` highest tied columns, scanning from the top column down.
            for (int drop = BitOperations.PopCount(ties) - need; drop > 0; drop--)
            {
                ties &= ties - 1;
            }

            need -= BitOperations.PopCount(ties);
            winners[w] = scratch[w] | ties;
        }

        return wanted;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PopCount(Vector256<ulong> v) =>
        BitOperations.PopCount(v.GetElement(0)) + BitOperations.PopCount(v.GetElement(1))
        + BitOperations.PopCount(v.GetElement(2)) + BitOperations.PopCount(v.GetElement(3));
}
