using System.Numerics;
using System.Runtime.CompilerServices;

namespace HtmEngine.Core.Sdr;

/// <summary>
/// Bit-array kernels over SDRs packed 64 bits to a <see cref="ulong"/> (bit i lives in word i / 64, bit i % 64).
/// Each operation picks the widest vector path the machine accelerates (AVX-512BW, then AVX2, then scalar) at
/// run time; all paths return identical results (checked by property tests against <c>BitKernelsReference</c>).
/// </summary>
public static class BitKernels
{
    private static KernelWidth s_forcedWidth = KernelWidth.Auto;

    /// <summary>
    /// Caps the vector width the kernels may use (tests and benchmarks): <see cref="KernelWidth.Scalar"/> forces the
    /// reference loops, <see cref="KernelWidth.Vector256"/> forbids the 512-bit path. Not thread-safe; set it before
    /// running models.
    /// </summary>
    internal static KernelWidth ForcedWidth
    {
        get => s_forcedWidth;
        set => s_forcedWidth = value;
    }

    /// <summary>True when the 512-bit path is both allowed and accelerated.</summary>
    internal static bool UseVector512
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => BitKernelsVector512.IsSupported && s_forcedWidth is KernelWidth.Auto or KernelWidth.Vector512;
    }

    /// <summary>True when the 256-bit path is both allowed and accelerated.</summary>
    internal static bool UseVector256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => BitKernelsVector256.IsSupported && s_forcedWidth != KernelWidth.Scalar;
    }

    /// <summary>Number of <see cref="ulong"/> words needed to hold <paramref name="bitCount"/> bits.</summary>
    public static int WordCount(int bitCount) => (bitCount + 63) >> 6;

    /// <summary>Number of set bits.</summary>
    public static int PopCount(ReadOnlySpan<ulong> words)
    {
        if (UseVector512)
        {
            return BitKernelsVector512.PopCount(words);
        }

        return UseVector256 ? BitKernelsVector256.PopCount(words) : BitKernelsReference.PopCount(words);
    }

    /// <summary>Overlap of two SDRs: the number of bits set in both. The spans must have the same length.</summary>
    public static int AndPopCount(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        CheckSameLength(a.Length, b.Length);
        if (UseVector512)
        {
            return BitKernelsVector512.AndPopCount(a, b);
        }

        return UseVector256 ? BitKernelsVector256.AndPopCount(a, b) : BitKernelsReference.AndPopCount(a, b);
    }

    /// <summary>Writes <c>a AND b</c> to <paramref name="destination"/> (which may alias either input exactly).</summary>
    public static void And(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination)
    {
        CheckSameLength(a.Length, b.Length);
        CheckSameLength(a.Length, destination.Length);
        if (UseVector512)
        {
            BitKernelsVector512.And(a, b, destination);
        }
        else if (UseVector256)
        {
            BitKernelsVector256.And(a, b, destination);
        }
        else
        {
            BitKernelsReference.And(a, b, destination);
        }
    }

    /// <summary>Writes <c>a OR b</c> to <paramref name="destination"/> (which may alias either input exactly).</summary>
    public static void Or(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination)
    {
        CheckSameLength(a.Length, b.Length);
        CheckSameLength(a.Length, destination.Length);
        if (UseVector512)
        {
            BitKernelsVector512.Or(a, b, destination);
        }
        else if (UseVector256)
        {
            BitKernelsVector256.Or(a, b, destination);
        }
        else
        {
            BitKernelsReference.Or(a, b, destination);
        }
    }

    /// <summary>
    /// Batched overlap of one input against many rows: <c>overlaps[r] = AndPopCount(input, rows[r·w .. r·w + w))</c>
    /// with w = <c>input.Length</c>, for every r in [0, <c>overlaps.Length</c>). This is the spatial pooler's
    /// overlap step over its bit-packed connected matrix.
    /// </summary>
    public static void AndPopCountRows(ReadOnlySpan<ulong> input, ReadOnlySpan<ulong> rows, Span<int> overlaps)
    {
        if ((long)input.Length * overlaps.Length > rows.Length)
        {
            throw new ArgumentException("The row matrix is shorter than rows × input width.", nameof(rows));
        }

        if (UseVector512 && BitKernelsVector512.SupportsRowWidth(input.Length))
        {
            BitKernelsVector512.AndPopCountRows(input, rows, overlaps);
        }
        else if (UseVector256 && BitKernelsVector256.SupportsRowWidth(input.Length))
        {
            BitKernelsVector256.AndPopCountRows(input, rows, overlaps);
        }
        else
        {
            int width = input.Length;
            for (int r = 0; r < overlaps.Length; r++)
            {
                overlaps[r] = AndPopCount(input, rows.Slice(r * width, width));
            }
        }
    }

    /// <summary>Sets bit <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetBit(Span<ulong> words, int index) => words[index >> 6] |= 1UL << (index & 63);

    /// <summary>Clears bit <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearBit(Span<ulong> words, int index) => words[index >> 6] &= ~(1UL << (index & 63));

    /// <summary>Whether bit <paramref name="index"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TestBit(ReadOnlySpan<ulong> words, int index) => (words[index >> 6] & (1UL << (index & 63))) != 0;

    /// <summary>Sets every bit listed in <paramref name="indices"/>.</summary>
    public static void SetBits(Span<ulong> words, ReadOnlySpan<int> indices)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            SetBit(words, indices[i]);
        }
    }

    /// <summary>
    /// Writes the indices of the set bits in ascending order to <paramref name="indices"/> and returns how many there
    /// are. Throws when <paramref name="indices"/> is too short.
    /// </summary>
    public static int GetSetBits(ReadOnlySpan<ulong> words, Span<int> indices)
    {
        int count = 0;
        for (int w = 0; w < words.Length; w++)
        {
            ulong word = words[w];
            int baseIndex = w << 6;
            while (word != 0)
            {
                indices[count++] = baseIndex + BitOperations.TrailingZeroCount(word);
                word &= word - 1;
            }
        }

        return count;
    }

    private static void CheckSameLength(int a, int b)
    {
        if (a != b)
        {
            ThrowLengthMismatch();
        }
    }

    private static void ThrowLengthMismatch() => throw new ArgumentException("Bit spans must have the same length.");
}

/// <summary>The widest vector path the bit kernels may use.</summary>
internal enum KernelWidth
{
    /// <summary>The widest accelerated path.</summary>
    Auto,

    /// <summary>Scalar reference loops only.</summary>
    Scalar,

    /// <summary>At most 256-bit vectors.</summary>
    Vector256,

    /// <summary>512-bit vectors when accelerated (same as <see cref="Auto"/>).</summary>
    Vector512,
}
