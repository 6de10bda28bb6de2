using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using HtmEngine.Core.Sdr;

namespace HtmEngine.Core.SpatialPooling;

/// <summary>
/// The spatial pooler's float32 kernels: a column's permanence update (add the masked change, clip at 1, zero below
/// the trim threshold, rebuild the connected bit row) and the duty-cycle moving averages. Each has a scalar
/// reference and Vector256/Vector512 versions that perform the same IEEE operations lane by lane, so every path
/// gives bit-identical permanences.
/// </summary>
internal static class PoolerKernels
{
    /// <summary>Float lanes a permanence row is padded to (one 512-bit vector).</summary>
    public const int RowAlignment = 16;

    /// <summary>
    /// Builds the per-input change of a learning step: +<paramref name="increment"/> where the input bit is on,
    /// −<paramref name="decrement"/> elsewhere (as NuPIC's <c>permChanges</c>, in float32).
    /// </summary>
    public static void BuildDelta(ReadOnlySpan<ulong> input, float increment, float decrement, Span<float> delta)
    {
        float minus = -1f * decrement;
        for (int j = 0; j < delta.Length; j++)
        {
            delta[j] = (input[j >> 6] & (1UL << (j & 63))) != 0 ? increment : minus;
        }
    }

    /// <summary>Dispatches <c>UpdateRow</c> to the widest allowed path.</summary>
    public static int UpdateRow(Span<float> row, ReadOnlySpan<ulong> potential, ReadOnlySpan<float> delta, float trim, float threshold, Span<ulong> connected)
    {
        if (BitKernels.UseVector512)
        {
            return UpdateRowVector512(row, potential, delta, trim, threshold, connected);
        }

        return BitKernels.UseVector256
            ? UpdateRowVector256(row, potential, delta, trim, threshold, connected)
            : UpdateRowScalar(row, potential, delta, trim, threshold, connected);
    }

    /// <summary>
    /// Reference: for every lane j of the (padded) row, p += delta[j] if j is potential; p = min(p, 1);
    /// p = 0 if p &lt; trim; connected bit j = p ≥ threshold. Returns the number of connected synapses.
    /// </summary>
    public static int UpdateRowScalar(Span<float> row, ReadOnlySpan<ulong> potential, ReadOnlySpan<float> delta, float trim, float threshold, Span<ulong> connected)
    {
        connected.Clear();
        int count = 0;
        for (int j = 0; j < row.Length; j++)
        {
            float p = row[j];
            if ((potential[j >> 6] & (1UL << (j & 63))) != 0)
            {
                p += delta[j];
            }

            if (p > 1f)
            {
                p = 1f;
            }

            if (p < trim)
            {
                p = 0f;
            }

            row[j] = p;
            if (p >= threshold)
            {
                connected[j >> 6] |= 1UL << (j & 63);
                count++;
            }
        }

        return count;
    }

    public static int UpdateRowVector256(Span<float> row, ReadOnlySpan<ulong> potential, ReadOnlySpan<float> delta, float trim, float threshold, Span<ulong> connected)
    {
        ref float rowRef = ref MemoryMarshal.GetReference(row);
        ref float deltaRef = ref MemoryMarshal.GetReference(delta);
        Vector256<int> laneBits = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
        Vector256<float> one = Vector256.Create(1f);
        Vector256<float> trimVector = Vector256.Create(trim);
        Vector256<float> thresholdVector = Vector256.Create(threshold);
        int chunks = row.Length >> 3;
        int count = 0;
        ulong word = 0;
        for (int j = 0; j < chunks; j++)
        {
            int shift = (j & 7) << 3;
            int potentialByte = (int)(potential[j >> 3] >> shift) & 0xFF;
            Vector256<float> mask = Vector256.Equals(Vector256.Create(potentialByte) & laneBits, laneBits).AsSingle();
            Vector256<float> p = Vector256.LoadUnsafe(ref rowRef, (nuint)(j << 3));
            p += Vector256.LoadUnsafe(ref deltaRef, (nuint)(j << 3)) & mask;
            p = Vector256.ConditionalSelect(Vector256.GreaterThan(p, one), one, p);
            p = Vector256.AndNot(p, Vector256.LessThan(p, trimVector));
            p.StoreUnsafe(ref rowRef, (nuint)(j << 3));
            word |= (ulong)Vector256.GreaterThanOrEqual(p, thresholdVector).ExtractMostSignificantBits() << shift;
            if ((j & 7) == 7 || j == chunks - 1)
            {
                connected[j >> 3] = word;
                count += BitOperations.PopCount(word);
                word = 0;
            }
        }

        connected[((chunks + 7) >> 3)..].Clear();
        return count;
    }

    public static int UpdateRowVector512(Span<float> row, ReadOnlySpan<ulong> potential, ReadOnlySpan<float> delta, float trim, float threshold, Span<ulong> connected)
    {
        ref float rowRef = ref MemoryMarshal.GetReference(row);
        ref float deltaRef = ref MemoryMarshal.GetReference(delta);
        Vector512<int> laneBits = Vector512.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
        Vector512<float> one = Vector512.Create(1f);
        Vector512<float> trimVector = Vector512.Create(trim);
        Vector512<float> thresholdVector = Vector512.Create(threshold);
        int chunks = row.Length >> 4;
        int count = 0;
        ulong word = 0;
        for (int j = 0; j < chunks; j++)
        {
            int shift = (j & 3) << 4;
            int potentialBits = (int)(potential[j >> 2] >> shift) & 0xFFFF;
            Vector512<float> mask = Vector512.Equals(Vector512.Create(potentialBits) & laneBits, laneBits).AsSingle();
            Vector512<float> p = Vector512.LoadUnsafe(ref rowRef, (nuint)(j << 4));
            p += Vector512.LoadUnsafe(ref deltaRef, (nuint)(j << 4)) & mask;
            p = Vector512.ConditionalSelect(Vector512.GreaterThan(p, one), one, p);
            p = Vector512.AndNot(p, Vector512.LessThan(p, trimVector));
            p.StoreUnsafe(ref rowRef, (nuint)(j << 4));
            word |= (ulong)Vector512.GreaterThanOrEqual(p, thresholdVector).ExtractMostSignificantBits() << shift;
            if ((j & 3) == 3 || j == chunks - 1)
            {
                connected[j >> 2] = word;
                count += BitOperations.PopCount(word);
                word = 0;
            }
        }

        connected[((chunks + 3) >> 2)..].Clear();
        return count;
    }

    /// <summary>Dispatches <c>UpdateDutyCycles</c> to the widest allowed path.</summary>
    public static void UpdateDutyCycles(Span<float> dutyCycles, ReadOnlySpan<float> newValues, int period)
    {
        if (BitKernels.UseVector512)
        {
            UpdateDutyCyclesVector512(dutyCycles, newValues, period);
        }
        else if (BitKernels.UseVector256)
        {
            UpdateDutyCyclesVector256(dutyCycles, newValues, period);
        }
        else
        {
            UpdateDutyCyclesScalar(dutyCycles, newValues, period);
        }
    }

    /// <summary>Reference: d = (d × (period − 1) + new) / period in float32, as NuPIC.</summary>
    public static void UpdateDutyCyclesScalar(Span<float> dutyCycles, ReadOnlySpan<float> newValues, int period)
    {
        float previousWeight = period - 1;
        float divisor = period;
        for (int i = 0; i < dutyCycles.Length; i++)
        {
            dutyCycles[i] = ((dutyCycles[i] * previousWeight) + newValues[i]) / divisor;
        }
    }

    public static void UpdateDutyCyclesVector256(Span<float> dutyCycles, ReadOnlySpan<float> newValues, int period)
    {
        ref float d = ref MemoryMarshal.GetReference(dutyCycles);
        ref float v = ref MemoryMarshal.GetReference(newValues);
        Vector256<float> previousWeight = Vector256.Create((float)(period - 1));
        Vector256<float> divisor = Vector256.Create((float)period);
        int i = 0;
        for (; i <= dutyCycles.Length - 8; i += 8)
        {
            Vector256<float> updated = ((Vector256.LoadUnsafe(ref d, (nuint)i) * previousWeight) + Vector256.LoadUnsafe(ref v, (nuint)i)) / divisor;
            updated.StoreUnsafe(ref d, (nuint)i);
        }

        UpdateDutyCyclesScalar(dutyCycles[i..], newValues[i..], period);
    }

    public static void UpdateDutyCyclesVector512(Span<float> dutyCycles, ReadOnlySpan<float> newValues, int period)
    {
        ref float d = ref MemoryMarshal.GetReference(dutyCycles);
        ref float v = ref MemoryMarshal.GetReference(newValues);
        Vector512<float> previousWeight = Vector512.Create((float)(period - 1));
        Vector512<float> divisor = Vector512.Create((float)period);
        int i = 0;
        for (; i <= dutyCycles.Length - 16; i += 16)
        {
            Vector512<float> updated = ((Vector512.LoadUnsafe(ref d, (nuint)i) * previousWeight) + Vector512.LoadUnsafe(ref v, (nuint)i)) / divisor;
            updated.StoreUnsafe(ref d, (nuint)i);
        }

        UpdateDutyCyclesScalar(dutyCycles[i..], newValues[i..], period);
    }

    /// <summary>Writes 1 where the overlap is positive and 0 elsewhere (NuPIC's "column had input" indicator).</summary>
    public static void PositiveIndicator(ReadOnlySpan<int> overlaps, Span<float> indicator)
    {
        int i = 0;
        if (BitKernels.UseVector256)
        {
            ref int o = ref MemoryMarshal.GetReference(overlaps);
            ref float target = ref MemoryMarshal.GetReference(indicator);
            Vector256<float> one = Vector256.Create(1f);
            for (; i <= overlaps.Length - 8; i += 8)
            {
                Vector256<int> positive = Vector256.GreaterThan(Vector256.LoadUnsafe(ref o, (nuint)i), Vector256<int>.Zero);
                (one & positive.AsSingle()).StoreUnsafe(ref target, (nuint)i);
            }
        }

        for (; i < overlaps.Length; i++)
        {
            indicator[i] = overlaps[i] > 0 ? 1f : 0f;
        }
    }

    /// <summary>Writes 1 for every set bit and 0 for every clear bit, one float per bit of <paramref name="output"/>.</summary>
    public static void ExpandBits(ReadOnlySpan<ulong> bits, Span<float> output)
    {
        int i = 0;
        if (BitKernels.UseVector256)
        {
            ref float target = ref MemoryMarshal.GetReference(output);
            Vector256<int> laneBits = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
            Vector256<float> one = Vector256.Create(1f);
            for (; i <= output.Length - 8; i += 8)
            {
                int eight = (int)(bits[i >> 6] >> (i & 63)) & 0xFF;
                Vector256<float> mask = Vector256.Equals(Vector256.Create(eight) & laneBits, laneBits).AsSingle();
                (one & mask).StoreUnsafe(ref target, (nuint)i);
            }
        }

        for (; i < output.Length; i++)
        {
            output[i] = (bits[i >> 6] & (1UL << (i & 63))) != 0 ? 1f : 0f;
        }
    }

    /// <summary>
    /// Appends, in ascending order, every index in [<paramref name="from"/>, <paramref name="to"/>) whose value is at
    /// least <paramref name="minimum"/>.
    /// </summary>
    public static int AppendAtLeast(ReadOnlySpan<int> values, int from, int to, int minimum, Span<int> output, int count)
    {
        int i = from;
        if (BitKernels.UseVector256)
        {
            ref int v = ref MemoryMarshal.GetReference(values);
            Vector256<int> bound = Vector256.Create(minimum);
            for (; i <= to - 8; i += 8)
            {
                uint bits = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref v, (nuint)i), bound).ExtractMostSignificantBits();
                while (bits != 0)
                {
                    output[count++] = i + BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                }
            }
        }

        for (; i < to; i++)
        {
            if (values[i] >= minimum)
            {
                output[count++] = i;
            }
        }

        return count;
    }
}
