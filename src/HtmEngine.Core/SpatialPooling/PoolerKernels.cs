using System.Numerics;
using System.Runtime.CompilerServices;
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

    /// <remarks>
    /// One potential word (64 lanes, four vectors) per round: the word's halves are broadcast once and each vector tests
    /// its 16 bits against shifted lane masks, so no scalar shifts or bounds checks run per vector. The JIT compiles the
    /// selects to mask-register blends (a first version anded the delta with an expanded mask and cleared trimmed lanes
    /// with another; it ran about 35 instructions per vector, and the rows of the 40 winners were 7 % of a model step).
    /// </remarks>
    public static int UpdateRowVector512(Span<float> row, ReadOnlySpan<ulong> potential, ReadOnlySpan<float> delta, float trim, float threshold, Span<ulong> connected)
    {
        int chunks = row.Length >> 4;
        int usedWords = (chunks + 3) >> 2;
        if (delta.Length < chunks << 4 || potential.Length < usedWords || connected.Length < usedWords)
        {
            throw new ArgumentException("The change, potential and connected rows must cover the permanence row.");
        }

        ref float rowRef = ref MemoryMarshal.GetReference(row);
        ref float deltaRef = ref MemoryMarshal.GetReference(delta);
        Vector512<int> lowLanes = Vector512.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
        Vector512<int> highLanes = lowLanes << 16;
        Vector512<float> one = Vector512.Create(1f);
        Vector512<float> trimVector = Vector512.Create(trim);
        Vector512<float> thresholdVector = Vector512.Create(threshold);
        int fullWords = chunks >> 2;
        int count = 0;
        for (int w = 0; w < fullWords; w++)
        {
            ulong bits = potential[w];
            Vector512<int> low = Vector512.Create((int)bits);
            Vector512<int> high = Vector512.Create((int)(bits >> 32));
            nuint at = (nuint)w << 6;
            ulong word = UpdateChunk512(ref rowRef, ref deltaRef, at, low, lowLanes, one, trimVector, thresholdVector)
                | (UpdateChunk512(ref rowRef, ref deltaRef, at + 16, low, highLanes, one, trimVector, thresholdVector) << 16)
                | (UpdateChunk512(ref rowRef, ref deltaRef, at + 32, high, lowLanes, one, trimVector, thresholdVector) << 32)
                | (UpdateChunk512(ref rowRef, ref deltaRef, at + 48, high, highLanes, one, trimVector, thresholdVector) << 48);
            connected[w] = word;
            count += BitOperations.PopCount(word);
        }

        int rest = chunks & 3;
        if (rest != 0)
        {
            ulong bits = potential[fullWords];
            ulong word = 0;
            for (int k = 0; k < rest; k++)
            {
                int shift = k << 4;
                Vector512<int> half = Vector512.Create((int)(bits >> (shift & 32)));
                Vector512<int> lanes = (k & 1) == 0 ? lowLanes : highLanes;
                word |= UpdateChunk512(ref rowRef, ref deltaRef, ((nuint)fullWords << 6) + (nuint)shift, half, lanes, one, trimVector, thresholdVector) << shift;
            }

            connected[fullWords] = word;
            count += BitOperations.PopCount(word);
        }

        connected[usedWords..].Clear();
        return count;
    }

    /// <summary>One vector of <see cref="UpdateRowVector512"/>: returns its lanes' connected bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong UpdateChunk512(ref float rowRef, ref float deltaRef, nuint at, Vector512<int> potentialHalf, Vector512<int> laneBits, Vector512<float> one, Vector512<float> trim, Vector512<float> threshold)
    {
        Vector512<float> notPotential = Vector512.Equals(potentialHalf & laneBits, Vector512<int>.Zero).AsSingle();
        Vector512<float> p = Vector512.LoadUnsafe(ref rowRef, at);
        p = Vector512.ConditionalSelect(notPotential, p, p + Vector512.LoadUnsafe(ref deltaRef, at));
        p = Vector512.ConditionalSelect(Vector512.GreaterThan(p, one), one, p);
        p = Vector512.ConditionalSelect(Vector512.LessThan(p, trim), Vector512<float>.Zero, p);
        p.StoreUnsafe(ref rowRef, at);
        return Vector512.GreaterThanOrEqual(p, threshold).ExtractMostSignificantBits();
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

    /// <summary>Dispatches <c>UpdateDutyCyclesFromBits</c> to the widest allowed path.</summary>
    public static void UpdateDutyCyclesFromBits(Span<float> dutyCycles, ReadOnlySpan<ulong> bits, int period)
    {
        if (BitKernels.UseVector512)
        {
            UpdateDutyCyclesFromBitsVector512(dutyCycles, bits, period);
        }
        else if (BitKernels.UseVector256)
        {
            UpdateDutyCyclesFromBitsVector256(dutyCycles, bits, period);
        }
        else
        {
            UpdateDutyCyclesFromBitsScalar(dutyCycles, bits, period);
        }
    }

    /// <summary>
    /// Reference: <see cref="UpdateDutyCyclesScalar"/> with the new value 1 where bit i of <paramref name="bits"/> is
    /// set and 0 elsewhere, as the learning step's float indicators hold them.
    /// </summary>
    public static void UpdateDutyCyclesFromBitsScalar(Span<float> dutyCycles, ReadOnlySpan<ulong> bits, int period) =>
        UpdateDutyCyclesFromBitsScalar(dutyCycles, bits, period, 0);

    /// <summary>The reference from lane <paramref name="from"/> on: the vector paths' tail.</summary>
    private static void UpdateDutyCyclesFromBitsScalar(Span<float> dutyCycles, ReadOnlySpan<ulong> bits, int period, int from)
    {
        float previousWeight = period - 1;
        float divisor = period;
        for (int i = from; i < dutyCycles.Length; i++)
        {
            float value = (bits[i >> 6] & (1UL << (i & 63))) != 0 ? 1f : 0f;
            dutyCycles[i] = ((dutyCycles[i] * previousWeight) + value) / divisor;
        }
    }

    public static void UpdateDutyCyclesFromBitsVector256(Span<float> dutyCycles, ReadOnlySpan<ulong> bits, int period)
    {
        int whole = dutyCycles.Length & ~7;
        if (bits.Length < (whole + 63) >> 6)
        {
            throw new ArgumentException("The bit mask must cover the duty cycles.", nameof(bits));
        }

        ref float d = ref MemoryMarshal.GetReference(dutyCycles);
        Vector256<int> laneBits = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
        Vector256<float> one = Vector256.Create(1f);
        Vector256<float> previousWeight = Vector256.Create((float)(period - 1));
        Vector256<float> divisor = Vector256.Create((float)period);
        for (int i = 0; i < whole; i += 8)
        {
            int eight = (int)(bits[i >> 6] >> (i & 63)) & 0xFF;
            Vector256<float> value = one & Vector256.Equals(Vector256.Create(eight) & laneBits, laneBits).AsSingle();
            Vector256<float> updated = ((Vector256.LoadUnsafe(ref d, (nuint)i) * previousWeight) + value) / divisor;
            updated.StoreUnsafe(ref d, (nuint)i);
        }

        UpdateDutyCyclesFromBitsScalar(dutyCycles, bits, period, whole);
    }

    /// <remarks>
    /// The pooler's two duty-cycle updates per learning step read their 0/1 values from bit masks it already has (the
    /// columns with input, the winners), instead of expanding them into a float array first, clearing it and reading
    /// it back: the same additions of 0 and 1, so the same floats.
    /// </remarks>
    public static void UpdateDutyCyclesFromBitsVector512(Span<float> dutyCycles, ReadOnlySpan<ulong> bits, int period)
    {
        int whole = dutyCycles.Length & ~15;
        if (bits.Length < (whole + 63) >> 6)
        {
            throw new ArgumentException("The bit mask must cover the duty cycles.", nameof(bits));
        }

        ref float d = ref MemoryMarshal.GetReference(dutyCycles);
        Vector512<int> laneBits = Vector512.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
        Vector512<float> one = Vector512.Create(1f);
        Vector512<float> previousWeight = Vector512.Create((float)(period - 1));
        Vector512<float> divisor = Vector512.Create((float)period);
        for (int i = 0; i < whole; i += 16)
        {
            int sixteen = (int)(bits[i >> 6] >> (i & 63)) & 0xFFFF;
            Vector512<float> value = one & Vector512.Equals(Vector512.Create(sixteen) & laneBits, laneBits).AsSingle();
            Vector512<float> updated = ((Vector512.LoadUnsafe(ref d, (nuint)i) * previousWeight) + value) / divisor;
            updated.StoreUnsafe(ref d, (nuint)i);
        }

        UpdateDutyCyclesFromBitsScalar(dutyCycles, bits, period, whole);
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
