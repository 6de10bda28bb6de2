using FsCheck.Xunit;
using HtmEngine.Core.Sdr;
using HtmEngine.Core.SpatialPooling;

namespace HtmEngine.Tests.Property.Core.SpatialPooling;

public class SpatialPoolerProperties
{
    [Property(MaxTest = 60)]
    public bool Output_is_always_the_expected_number_of_ascending_distinct_columns(int seed, ushort columnsRaw, byte widthRaw, byte densityRaw)
    {
        int columns = 1 + (columnsRaw % 400);
        int width = 1 + widthRaw;
        var sp = new SpatialPooler(new SpatialPoolerParameters { ColumnCount = columns, InputWidth = width, Seed = (ulong)(uint)seed + 1 });
        // NuPIC's count: floor(min(0.5, 40 / columns) × columns) in float32; exactly 40 from 80 columns up.
        int expected = (int)(Math.Min(0.5f, 40f / columns) * columns);
        if (sp.ActiveColumnCount != expected || (columns >= 80 && expected != 40))
        {
            return false;
        }

        var random = new Random(seed);
        var input = new ulong[BitKernels.WordCount(width)];
        var active = new int[expected];
        for (int step = 0; step < 20; step++)
        {
            for (int i = 0; i < input.Length; i++)
            {
                input[i] = (ulong)random.NextInt64() & (ulong)random.NextInt64() & ((densityRaw & 1) == 0 ? ulong.MaxValue : (ulong)random.NextInt64());
            }

            if (sp.Compute(input, learn: (step & 1) == 0, active) != expected)
            {
                return false;
            }

            for (int i = 0; i < expected; i++)
            {
                if (active[i] < 0 || active[i] >= columns || (i > 0 && active[i] <= active[i - 1]))
                {
                    return false;
                }
            }
        }

        return true;
    }

    [Property(MaxTest = 300)]
    public bool Row_update_vector_paths_equal_the_reference(int seed, byte chunksRaw, bool increment)
    {
        int length = PoolerKernels.RowAlignment * (1 + (chunksRaw % 40));
        int words = BitKernels.WordCount(length);
        var random = new Random(seed);
        var row = new float[length];
        var potential = new ulong[words];
        var input = new ulong[words];
        for (int i = 0; i < words; i++)
        {
            potential[i] = (ulong)random.NextInt64() | (ulong)random.NextInt64();
            input[i] = (ulong)random.NextInt64() & (ulong)random.NextInt64();
        }

        for (int j = 0; j < length; j++)
        {
            // Values near every boundary: 0, the trim threshold, the connected threshold, 1.
            row[j] = BitKernels.TestBit(potential, j)
                ? random.Next(6) switch
                {
                    0 => 0f,
                    1 => 0.0015f + ((random.Next(5) - 2) * 0.0005f),
                    2 => 0.2f + ((random.Next(5) - 2) * 0.0005f),
                    3 => 1f - (random.Next(3) * 0.001f),
                    _ => (float)random.NextDouble(),
                }
                : 0f;
            if (row[j] < 0f)
            {
                row[j] = 0f;
            }
        }

        var delta = new float[length];
        if (increment)
        {
            Array.Fill(delta, 0.02f);
        }
        else
        {
            PoolerKernels.BuildDelta(input, 0.003f, 0.0005f, delta);
        }

        const float trim = 0.0015f;
        const float threshold = 0.2f - 0.000001f;
        float[] expectedRow = (float[])row.Clone();
        var expectedConnected = new ulong[words];
        int expectedCount = PoolerKernels.UpdateRowScalar(expectedRow, potential, delta, trim, threshold, expectedConnected);
        bool ok = true;
        if (BitKernelsVector256.IsSupported)
        {
            float[] actual = (float[])row.Clone();
            var connected = new ulong[words];
            Array.Fill(connected, ulong.MaxValue);
            ok &= PoolerKernels.UpdateRowVector256(actual, potential, delta, trim, threshold, connected) == expectedCount
                && actual.AsSpan().SequenceEqual(expectedRow) && connected.AsSpan().SequenceEqual(expectedConnected);
        }

        if (BitKernelsVector512.IsSupported)
        {
            float[] actual = (float[])row.Clone();
            var connected = new ulong[words];
            Array.Fill(connected, ulong.MaxValue);
            ok &= PoolerKernels.UpdateRowVector512(actual, potential, delta, trim, threshold, connected) == expectedCount
                && actual.AsSpan().SequenceEqual(expectedRow) && connected.AsSpan().SequenceEqual(expectedConnected);
        }

        return ok;
    }

    [Property(MaxTest = 300)]
    public bool Duty_cycle_vector_paths_equal_the_reference(int seed, ushort lengthRaw, ushort periodRaw)
    {
        int length = lengthRaw % 3000;
        int period = 1 + (periodRaw % 1000);
        var random = new Random(seed);
        var dutyCycles = new float[length];
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            dutyCycles[i] = (float)random.NextDouble();
            values[i] = random.Next(2);
        }

        float[] expected = (float[])dutyCycles.Clone();
        PoolerKernels.UpdateDutyCyclesScalar(expected, values, period);
        bool ok = true;
        if (BitKernelsVector256.IsSupported)
        {
            float[] actual = (float[])dutyCycles.Clone();
            PoolerKernels.UpdateDutyCyclesVector256(actual, values, period);
            ok &= actual.AsSpan().SequenceEqual(expected);
        }

        if (BitKernelsVector512.IsSupported)
        {
            float[] actual = (float[])dutyCycles.Clone();
            PoolerKernels.UpdateDutyCyclesVector512(actual, values, period);
            ok &= actual.AsSpan().SequenceEqual(expected);
        }

        return ok;
    }

    [Property(MaxTest = 300)]
    public bool Duty_cycles_from_bits_equal_the_reference_and_the_float_indicator_update(int seed, ushort lengthRaw, ushort periodRaw)
    {
        int length = lengthRaw % 3000;
        int period = 1 + (periodRaw % 1000);
        var random = new Random(seed);
        var dutyCycles = new float[length];
        var bits = new ulong[BitKernels.WordCount(length) + 1];
        var indicator = new float[length];
        for (int i = 0; i < bits.Length; i++)
        {
            bits[i] = (ulong)random.NextInt64() & (ulong)random.NextInt64();
        }

        for (int i = 0; i < length; i++)
        {
            dutyCycles[i] = random.Next(8) == 0 ? 0f : (float)random.NextDouble();
            indicator[i] = BitKernels.TestBit(bits, i) ? 1f : 0f;
        }

        float[] expected = (float[])dutyCycles.Clone();
        PoolerKernels.UpdateDutyCyclesScalar(expected, indicator, period);
        float[] reference = (float[])dutyCycles.Clone();
        PoolerKernels.UpdateDutyCyclesFromBitsScalar(reference, bits, period);
        bool ok = reference.AsSpan().SequenceEqual(expected);
        if (BitKernelsVector256.IsSupported)
        {
            float[] actual = (float[])dutyCycles.Clone();
            PoolerKernels.UpdateDutyCyclesFromBitsVector256(actual, bits, period);
            ok &= actual.AsSpan().SequenceEqual(expected);
        }

        if (BitKernelsVector512.IsSupported)
        {
            float[] actual = (float[])dutyCycles.Clone();
            PoolerKernels.UpdateDutyCyclesFromBitsVector512(actual, bits, period);
            ok &= actual.AsSpan().SequenceEqual(expected);
        }

        return ok;
    }
}

public class SpatialPoolerPathProperties
{
    /// <summary>
    /// The bit-sliced path (transposed matrix, planes, bit-sliced selection) and the scalar reference path (row
    /// overlaps, histogram) give the same winners and the same learned permanences, for random pooler shapes.
    /// </summary>
    [Property(MaxTest = 40)]
    public bool Vector_and_scalar_poolers_agree(int seed, ushort columnsRaw, ushort widthRaw, byte activeRaw, byte thresholdRaw)
    {
        if (!BitKernelsVector256.IsSupported)
        {
            return true;
        }

        int columns = 1 + (columnsRaw % 600);
        int width = 1 + (widthRaw % 300);
        var parameters = new SpatialPoolerParameters
        {
            ColumnCount = columns,
            InputWidth = width,
            NumActiveColumnsPerInhArea = 1 + (activeRaw % 60),
            StimulusThreshold = thresholdRaw % 4,
            Seed = (ulong)(uint)seed + 1,
        };
        var vector = new SpatialPooler(parameters);
        KernelWidth saved = BitKernels.ForcedWidth;
        SpatialPooler scalar;
        try
        {
            BitKernels.ForcedWidth = KernelWidth.Scalar;
            scalar = new SpatialPooler(parameters);
        }
        finally
        {
            BitKernels.ForcedWidth = saved;
        }

        var random = new Random(seed);
        var input = new ulong[BitKernels.WordCount(width)];
        var a = new int[vector.ActiveColumnCount];
        var b = new int[vector.ActiveColumnCount];
        for (int step = 0; step < 30; step++)
        {
            Array.Clear(input);
            int on = random.Next(Math.Min(width, 120) + 1);
            for (int k = 0; k < on; k++)
            {
                BitKernels.SetBit(input, random.Next(width));
            }

            int countA = vector.Compute(input, learn: step % 4 != 3, a);
            int countB;
            try
            {
                BitKernels.ForcedWidth = KernelWidth.Scalar;
                countB = scalar.Compute(input, learn: step % 4 != 3, b);
            }
            finally
            {
                BitKernels.ForcedWidth = saved;
            }

            if (countA != countB || !a.AsSpan(0, countA).SequenceEqual(b.AsSpan(0, countB)) || !vector.Overlaps.SequenceEqual(scalar.Overlaps))
            {
                return false;
            }
        }

        for (int c = 0; c < columns; c++)
        {
            if (!vector.GetPermanences(c).SequenceEqual(scalar.GetPermanences(c)))
            {
                return false;
            }
        }

        return vector.OverlapDutyCycles.SequenceEqual(scalar.OverlapDutyCycles) && vector.ActiveDutyCycles.SequenceEqual(scalar.ActiveDutyCycles);
    }
}
