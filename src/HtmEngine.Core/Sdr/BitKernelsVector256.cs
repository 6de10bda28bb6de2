using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HtmEngine.Core.Sdr;

/// <summary>
/// AVX2 versions of the bit kernels. Popcount uses the nibble lookup table (two <c>vpshufb</c>) followed by
/// <c>vpsadbw</c>, which sums the byte counts of each 64-bit lane. Tails shorter than a vector run the scalar code.
/// </summary>
internal static class BitKernelsVector256
{
    /// <summary>Whether this path can run on the current machine.</summary>
    public static bool IsSupported => Vector256.IsHardwareAccelerated && Avx2.IsSupported;

    /// <summary>Row widths (in words) the batched overlap handles: whole vectors, small enough for 16-bit sums.</summary>
    public static bool SupportsRowWidth(int words) => words > 0 && (words & 3) == 0 && words <= 1020;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> LanePopCount(Vector256<ulong> value)
    {
        Vector256<byte> lookup = Vector256.Create(
            (byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        Vector256<byte> lowMask = Vector256.Create((byte)0x0F);
        Vector256<byte> bytes = value.AsByte();
        Vector256<byte> low = bytes & lowMask;
        Vector256<byte> high = (value.AsUInt16() >>> 4).AsByte() & lowMask;
        Vector256<byte> counts = Avx2.Add(Avx2.Shuffle(lookup, low), Avx2.Shuffle(lookup, high));
        return Avx2.SumAbsoluteDifferences(counts, Vector256<byte>.Zero).AsUInt64();
    }

    public static int PopCount(ReadOnlySpan<ulong> words)
    {
        ref ulong source = ref MemoryMarshal.GetReference(words);
        int length = words.Length;
        int i = 0;
        Vector256<ulong> sum = Vector256<ulong>.Zero;
        for (; i <= length - Vector256<ulong>.Count; i += Vector256<ulong>.Count)
        {
            sum += LanePopCount(Vector256.LoadUnsafe(ref source, (nuint)i));
        }

        int count = (int)Vector256.Sum(sum);
        for (; i < length; i++)
        {
            count += BitOperations.PopCount(Unsafe.Add(ref source, i));
        }

        return count;
    }

    public static int AndPopCount(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        ref ulong left = ref MemoryMarshal.GetReference(a);
        ref ulong right = ref MemoryMarshal.GetReference(b);
        int length = a.Length;
        int i = 0;
        Vector256<ulong> sum = Vector256<ulong>.Zero;
        for (; i <= length - Vector256<ulong>.Count; i += Vector256<ulong>.Count)
        {
            sum += LanePopCount(Vector256.LoadUnsafe(ref left, (nuint)i) & Vector256.LoadUnsafe(ref right, (nuint)i));
        }

        int count = (int)Vector256.Sum(sum);
        for (; i < length; i++)
        {
            count += BitOperations.PopCount(Unsafe.Add(ref left, i) & Unsafe.Add(ref right, i));
        }

        return count;
    }

    public static void And(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination)
    {
        ref ulong left = ref MemoryMarshal.GetReference(a);
        ref ulong right = ref MemoryMarshal.GetReference(b);
        ref ulong target = ref MemoryMarshal.GetReference(destination);
        int length = a.Length;
        int i = 0;
        for (; i <= length - Vector256<ulong>.Count; i += Vector256<ulong>.Count)
        {
            (Vector256.LoadUnsafe(ref left, (nuint)i) & Vector256.LoadUnsafe(ref right, (nuint)i)).StoreUnsafe(ref target, (nuint)i);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref target, i) = Unsafe.Add(ref left, i) & Unsafe.Add(ref right, i);
        }
    }

    public static void Or(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination)
    {
        ref ulong left = ref MemoryMarshal.GetReference(a);
        ref ulong right = ref MemoryMarshal.GetReference(b);
        ref ulong target = ref MemoryMarshal.GetReference(destination);
        int length = a.Length;
        int i = 0;
        for (; i <= length - Vector256<ulong>.Count; i += Vector256<ulong>.Count)
        {
            (Vector256.LoadUnsafe(ref left, (nuint)i) | Vector256.LoadUnsafe(ref right, (nuint)i)).StoreUnsafe(ref target, (nuint)i);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref target, i) = Unsafe.Add(ref left, i) | Unsafe.Add(ref right, i);
        }
    }

    /// <summary>
    /// Overlaps of one input against consecutive rows. Four rows at a time: each row's per-lane sums are shifted
    /// into its own 16-bit field of the lanes, so one horizontal sum yields all four overlaps.
    /// </summary>
    public static void AndPopCountRows(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> rows, Span<int> overlaps)
    {
        int width = input.Length;
        ref ulong inputRef = ref MemoryMarshal.GetReference(input);
        ref ulong rowRef = ref MemoryMarshal.GetReference(rows);
        int rowCount = overlaps.Length;
        int r = 0;
        if (width == 8)
        {
            Vector256<ulong> in0 = Vector256.LoadUnsafe(ref inputRef);
            Vector256<ulong> in1 = Vector256.LoadUnsafe(ref inputRef, 4);
            for (; r <= rowCount - 4; r += 4)
            {
                ref ulong row = ref Unsafe.Add(ref rowRef, r * 8);
                Vector256<ulong> s0 = LanePopCount(Vector256.LoadUnsafe(ref row) & in0) + LanePopCount(Vector256.LoadUnsafe(ref row, 4) & in1);
                Vector256<ulong> s1 = LanePopCount(Vector256.LoadUnsafe(ref row, 8) & in0) + LanePopCount(Vector256.LoadUnsafe(ref row, 12) & in1);
                Vector256<ulong> s2 = LanePopCount(Vector256.LoadUnsafe(ref row, 16) & in0) + LanePopCount(Vector256.LoadUnsafe(ref row, 20) & in1);
                Vector256<ulong> s3 = LanePopCount(Vector256.LoadUnsafe(ref row, 24) & in0) + LanePopCount(Vector256.LoadUnsafe(ref row, 28) & in1);
                StoreFour(s0, s1, s2, s3, ref Unsafe.Add(ref MemoryMarshal.GetReference(overlaps), r));
            }
        }
        else
        {
            for (; r <= rowCount - 4; r += 4)
            {
                ref ulong row = ref Unsafe.Add(ref rowRef, r * width);
                Vector256<ulong> s0 = Vector256<ulong>.Zero;
                Vector256<ulong> s1 = Vector256<ulong>.Zero;
                Vector256<ulong> s2 = Vector256<ulong>.Zero;
                Vector256<ulong> s3 = Vector256<ulong>.Zero;
                for (int k = 0; k < width; k += 4)
                {
                    Vector256<ulong> inVector = Vector256.LoadUnsafe(ref inputRef, (nuint)k);
                    s0 += LanePopCount(Vector256.LoadUnsafe(ref row, (nuint)k) & inVector);
                    s1 += LanePopCount(Vector256.LoadUnsafe(ref row, (nuint)(width + k)) & inVector);
                    s2 += LanePopCount(Vector256.LoadUnsafe(ref row, (nuint)((2 * width) + k)) & inVector);
                    s3 += LanePopCount(Vector256.LoadUnsafe(ref row, (nuint)((3 * width) + k)) & inVector);
                }

                StoreFour(s0, s1, s2, s3, ref Unsafe.Add(ref MemoryMarshal.GetReference(overlaps), r));
            }
        }

        for (; r < rowCount; r++)
        {
            overlaps[r] = AndPopCount(input, rows.Slice(r * width, width));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFour(Vector256<ulong> s0, Vector256<ulong> s1, Vector256<ulong> s2, Vector256<ulong> s3, ref int destination)
    {
        // Every lane sum is below 2^16 (at most 64 bits per word × 1020 words / 4 lanes), so the four rows can share lanes.
        Vector256<ulong> packed = s0 | (s1 << 16) | (s2 << 32) | (s3 << 48);
        ulong total = Vector256.Sum(packed);
        destination = (int)(total & 0xFFFF);
        Unsafe.Add(ref destination, 1) = (int)((total >> 16) & 0xFFFF);
        Unsafe.Add(ref destination, 2) = (int)((total >> 32) & 0xFFFF);
        Unsafe.Add(ref destination, 3) = (int)(total >> 48);
    }
}
