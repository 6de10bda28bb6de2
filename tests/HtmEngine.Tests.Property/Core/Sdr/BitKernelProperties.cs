using FsCheck.Xunit;
using HtmEngine.Core.Sdr;

namespace HtmEngine.Tests.Property.Core.Sdr;

/// <summary>Every SIMD path of every bit kernel equals the scalar reference, on spans of random length and content.</summary>
public class BitKernelProperties
{
    private static (ulong[] A, ulong[] B) Spans(int seed, byte length, byte density)
    {
        var random = new Random(seed);
        var a = new ulong[length];
        var b = new ulong[length];
        for (int i = 0; i < length; i++)
        {
            a[i] = Word(random, density);
            b[i] = Word(random, density);
        }

        return (a, b);
    }

    private static ulong Word(Random random, byte density)
    {
        // density picks dense words, sparse words, all-ones or zero so the byte counters see their extremes.
        return (density % 4) switch
        {
            0 => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 33),
            1 => ((ulong)random.NextInt64() & (ulong)random.NextInt64() & (ulong)random.NextInt64()),
            2 => ulong.MaxValue,
            _ => random.Next(4) == 0 ? 1UL << random.Next(64) : 0,
        };
    }

    [Property(MaxTest = 300)]
    public bool PopCount_matches_reference(int seed, byte length, byte density)
    {
        var (a, _) = Spans(seed, length, density);
        int expected = BitKernelsReference.PopCount(a);
        bool ok = BitKernels.PopCount(a) == expected;
        if (BitKernelsVector256.IsSupported)
        {
            ok &= BitKernelsVector256.PopCount(a) == expected;
        }

        if (BitKernelsVector512.IsSupported)
        {
            ok &= BitKernelsVector512.PopCount(a) == expected;
        }

        return ok;
    }

    [Property(MaxTest = 300)]
    public bool AndPopCount_matches_reference(int seed, byte length, byte density)
    {
        var (a, b) = Spans(seed, length, density);
        int expected = BitKernelsReference.AndPopCount(a, b);
        bool ok = BitKernels.AndPopCount(a, b) == expected;
        if (BitKernelsVector256.IsSupported)
        {
            ok &= BitKernelsVector256.AndPopCount(a, b) == expected;
        }

        if (BitKernelsVector512.IsSupported)
        {
            ok &= BitKernelsVector512.AndPopCount(a, b) == expected;
        }

        return ok;
    }

    [Property(MaxTest = 300)]
    public bool And_and_Or_match_reference(int seed, byte length, byte density)
    {
        var (a, b) = Spans(seed, length, density);
        var expectedAnd = new ulong[length];
        var expectedOr = new ulong[length];
        BitKernelsReference.And(a, b, expectedAnd);
        BitKernelsReference.Or(a, b, expectedOr);
        var actual = new ulong[length];
        BitKernels.And(a, b, actual);
        bool ok = actual.AsSpan().SequenceEqual(expectedAnd);
        BitKernels.Or(a, b, actual);
        ok &= actual.AsSpan().SequenceEqual(expectedOr);
        if (BitKernelsVector256.IsSupported)
        {
            BitKernelsVector256.And(a, b, actual);
            ok &= actual.AsSpan().SequenceEqual(expectedAnd);
            BitKernelsVector256.Or(a, b, actual);
            ok &= actual.AsSpan().SequenceEqual(expectedOr);
        }

        if (BitKernelsVector512.IsSupported)
        {
            BitKernelsVector512.And(a, b, actual);
            ok &= actual.AsSpan().SequenceEqual(expectedAnd);
            BitKernelsVector512.Or(a, b, actual);
            ok &= actual.AsSpan().SequenceEqual(expectedOr);
        }

        return ok;
    }

    [Property(MaxTest = 200)]
    public bool AndPopCountRows_matches_reference(int seed, byte widthRaw, byte rowCountRaw, byte density)
    {
        // Widths 1..24 cover the SP's 8, other multiples of 4 and 8, and odd widths that take the fallback.
        int width = 1 + (widthRaw % 24);
        int rowCount = rowCountRaw % 70;
        var random = new Random(seed);
        var input = new ulong[width];
        var rows = new ulong[width * rowCount];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = Word(random, density);
        }

        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = Word(random, (byte)(density >> 2));
        }

        var expected = new int[rowCount];
        BitKernelsReference.AndPopCountRows(input, rows, expected);
        var actual = new int[rowCount];
        BitKernels.AndPopCountRows(input, rows, actual);
        bool ok = actual.AsSpan().SequenceEqual(expected);
        if (BitKernelsVector256.IsSupported && BitKernelsVector256.SupportsRowWidth(width))
        {
            Array.Clear(actual);
            BitKernelsVector256.AndPopCountRows(input, rows, actual);
            ok &= actual.AsSpan().SequenceEqual(expected);
        }

        if (BitKernelsVector512.IsSupported && BitKernelsVector512.SupportsRowWidth(width))
        {
            Array.Clear(actual);
            BitKernelsVector512.AndPopCountRows(input, rows, actual);
            ok &= actual.AsSpan().SequenceEqual(expected);
        }

        return ok;
    }

    [Property(MaxTest = 200)]
    public bool GetSetBits_lists_exactly_the_set_bits_in_ascending_order(int seed, byte length, byte density)
    {
        var (a, _) = Spans(seed, length, density);
        var indices = new int[length * 64];
        int count = BitKernels.GetSetBits(a, indices);
        if (count != BitKernelsReference.PopCount(a))
        {
            return false;
        }

        var rebuilt = new ulong[length];
        for (int i = 0; i < count; i++)
        {
            if (i > 0 && indices[i] <= indices[i - 1])
            {
                return false;
            }

            if (!BitKernels.TestBit(a, indices[i]))
            {
                return false;
            }

            BitKernels.SetBit(rebuilt, indices[i]);
        }

        return rebuilt.AsSpan().SequenceEqual(a);
    }
}
