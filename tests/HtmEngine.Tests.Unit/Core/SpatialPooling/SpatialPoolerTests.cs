using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Sdr;
using HtmEngine.Core.SpatialPooling;

namespace HtmEngine.Tests.Unit.Core.SpatialPooling;

public class SpatialPoolerTests
{
    private static readonly Lazy<SpatialPooler> s_fresh = new(() => new SpatialPooler(SpatialPoolerParameters.Nab));

    private static ulong[] RandomInput(Random random, int width = 454, int active = 42)
    {
        var bits = new ulong[BitKernels.WordCount(width)];
        int set = 0;
        while (set < active)
        {
            int i = random.Next(width);
            if (!BitKernels.TestBit(bits, i))
            {
                BitKernels.SetBit(bits, i);
                set++;
            }
        }

        return bits;
    }

    private static SpatialPooler RoundTrip(SpatialPooler pooler)
    {
        var writer = new CheckpointWriter(kind: 3, version: 1);
        pooler.Save(writer);
        var reader = new CheckpointReader(writer.Complete(), 3, 1);
        SpatialPooler restored = SpatialPooler.Load(ref reader);
        Assert.True(reader.AtEnd);
        return restored;
    }

    [Fact]
    public void Initialisation_gives_363_potential_synapses_truncated_to_five_decimals_about_half_connected()
    {
        SpatialPooler sp = s_fresh.Value;
        long connectedTotal = 0;
        for (int c = 0; c < 2048; c++)
        {
            Assert.Equal(363, BitKernels.PopCount(sp.GetPotential(c)));
            ReadOnlySpan<float> perms = sp.GetPermanences(c);
            int connected = 0;
            for (int i = 0; i < 454; i++)
            {
                float p = perms[i];
                bool potential = BitKernels.TestBit(sp.GetPotential(c), i);
                Assert.True(potential || p == 0f);
                Assert.InRange(p, 0f, 1f);
                Assert.True(p == 0f || p >= 0.0015f);
                // At most five decimals: the float32 nearest to a multiple of 1e-5.
                double scaled = p * 100000.0;
                Assert.True(Math.Abs(scaled - Math.Round(scaled)) < 0.01, $"{p} has more than five decimals");
                bool isConnected = p >= 0.2f - 0.000001f;
                Assert.Equal(isConnected, BitKernels.TestBit(sp.GetConnected(c), i));
                connected += isConnected ? 1 : 0;
            }

            Assert.Equal(connected, sp.GetConnectedCount(c));
            connectedTotal += connected;
        }

        Assert.InRange(connectedTotal / 2048.0, 175.0, 188.0);
        // Different columns get different pools.
        Assert.False(sp.GetPotential(0).SequenceEqual(sp.GetPotential(1)));
    }

    [Fact]
    public void Forty_ascending_distinct_columns_every_step()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        var random = new Random(11);
        var active = new int[40];
        for (int step = 0; step < 300; step++)
        {
            Assert.Equal(40, sp.Compute(RandomInput(random), learn: step % 3 != 0, active));
            for (int i = 1; i < 40; i++)
            {
                Assert.True(active[i] > active[i - 1]);
            }

            Assert.InRange(active[39], 0, 2047);
        }

        Assert.Equal(300, sp.Iteration);
    }

    [Fact]
    public void Winners_are_the_largest_overlaps()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        var active = new int[40];
        sp.Compute(RandomInput(new Random(3)), learn: false, active);
        int[] overlaps = sp.Overlaps.ToArray();
        int weakestWinner = active.Min(c => overlaps[c]);
        for (int c = 0; c < 2048; c++)
        {
            if (!active.Contains(c))
            {
                Assert.True(overlaps[c] <= weakestWinner);
                if (overlaps[c] == weakestWinner)
                {
                    // A losing column tied with the weakest winner must have a lower index than every tied winner.
                    Assert.All(active.Where(w => overlaps[w] == weakestWinner), w => Assert.True(w > c));
                }
            }
        }
    }

    [Fact]
    public void Ties_go_to_the_higher_column_index()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        var active = new int[40];

        // All-zero input: every overlap is 0, so the 40 highest columns win.
        sp.Compute(new ulong[8], learn: false, active);
        Assert.Equal(Enumerable.Range(2008, 40), active);

        // Constructed: inputs 0..41 on. Three columns with overlap 5, 45 with overlap 2, the rest 0.
        var input = new ulong[8];
        for (int i = 0; i < 42; i++)
        {
            BitKernels.SetBit(input, i);
        }

        int[] strong = [7, 900, 1500];
        int[] tied = Enumerable.Range(0, 45).Select(k => 20 + (k * 41)).ToArray();
        var perms = new float[454];
        for (int c = 0; c < 2048; c++)
        {
            Array.Clear(perms);
            int wanted = strong.Contains(c) ? 5 : tied.Contains(c) ? 2 : 0;
            for (int i = 0; i < 42 && wanted > 0; i++)
            {
                if (BitKernels.TestBit(sp.GetPotential(c), i))
                {
                    perms[i] = 0.5f;
                    wanted--;
                }
            }

            Assert.Equal(0, wanted);
            sp.SetPermanences(c, perms);
        }

        Assert.Equal(40, sp.Compute(input, learn: false, active));
        int[] expected = strong.Concat(tied.OrderByDescending(c => c).Take(37)).Order().ToArray();
        Assert.Equal(expected, active);
    }

    [Fact]
    public void Learning_moves_permanences_by_float32_increments_on_winners_only()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        var before = new float[2048][];
        for (int c = 0; c < 2048; c++)
        {
            before[c] = sp.GetPermanences(c).ToArray();
        }

        ulong[] input = RandomInput(new Random(8));
        var active = new int[40];
        sp.Compute(input, learn: true, active);
        for (int c = 0; c < 2048; c++)
        {
            ReadOnlySpan<float> after = sp.GetPermanences(c);
            if (!active.Contains(c))
            {
                Assert.Equal(before[c], after.ToArray());
                continue;
            }

            for (int i = 0; i < 454; i++)
            {
                float expected = 0f;
                if (BitKernels.TestBit(sp.GetPotential(c), i))
                {
                    expected = before[c][i] + (BitKernels.TestBit(input, i) ? 0.003f : -1f * 0.0005f);
                    expected = expected > 1f ? 1f : expected;
                    expected = expected < 0.0015f ? 0f : expected;
                }

                Assert.Equal(expected, after[i]);
                Assert.Equal(expected >= 0.2f - 0.000001f, BitKernels.TestBit(sp.GetConnected(c), i));
            }
        }

        // First step: period 1, so the duty cycles are the indicators themselves.
        for (int c = 0; c < 2048; c++)
        {
            Assert.Equal(sp.Overlaps[c] > 0 ? 1f : 0f, sp.OverlapDutyCycles[c]);
            Assert.Equal(active.Contains(c) ? 1f : 0f, sp.ActiveDutyCycles[c]);
        }
    }

    [Fact]
    public void Duty_cycles_follow_the_float32_moving_average()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        var random = new Random(21);
        var active = new int[40];
        sp.Compute(RandomInput(random), learn: true, active);
        float[] overlapBefore = sp.OverlapDutyCycles.ToArray();
        float[] activeBefore = sp.ActiveDutyCycles.ToArray();
        sp.Compute(RandomInput(random), learn: true, active);
        for (int c = 0; c < 2048; c++)
        {
            float o = sp.Overlaps[c] > 0 ? 1f : 0f;
            float a = active.Contains(c) ? 1f : 0f;
            Assert.Equal(((overlapBefore[c] * 1f) + o) / 2f, sp.OverlapDutyCycles[c]);
            Assert.Equal(((activeBefore[c] * 1f) + a) / 2f, sp.ActiveDutyCycles[c]);
        }
    }

    [Theory]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 0, 7, 8, 9, 2047 })] // neighbours and both ends: the search for weak columns resumes after each
    public void Columns_without_input_are_bumped_after_the_first_update_round(int[] weak)
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        foreach (int column in weak)
        {
            sp.SetPermanences(column, new float[454]);
        }

        var random = new Random(4);
        var active = new int[40];
        for (int step = 1; step <= 50; step++)
        {
            sp.Compute(RandomInput(random), learn: true, active);
            Assert.Empty(active.Intersect(weak));
        }

        Assert.True(sp.MinOverlapDutyCycle > 0f);
        foreach (int column in weak)
        {
            Assert.Equal(0f, sp.OverlapDutyCycles[column]);
            Assert.All(sp.GetPermanences(column).ToArray(), p => Assert.Equal(0f, p));
        }

        sp.Compute(RandomInput(random), learn: true, active);
        foreach (int column in weak)
        {
            ReadOnlySpan<float> perms = sp.GetPermanences(column);
            for (int i = 0; i < 454; i++)
            {
                Assert.Equal(BitKernels.TestBit(sp.GetPotential(column), i) ? 0.02f : 0f, perms[i]);
            }
        }
    }

    [Fact]
    public void Same_seed_gives_identical_outputs_for_1000_inputs()
    {
        var a = new SpatialPooler(SpatialPoolerParameters.Nab);
        var b = new SpatialPooler(SpatialPoolerParameters.Nab);
        var random = new Random(99);
        var activeA = new int[40];
        var activeB = new int[40];
        for (int step = 0; step < 1000; step++)
        {
            ulong[] input = RandomInput(random);
            a.Compute(input, learn: true, activeA);
            b.Compute(input, learn: true, activeB);
            Assert.Equal(activeA, activeB);
        }

        var other = new SpatialPooler(SpatialPoolerParameters.Nab with { Seed = 1957 });
        Assert.False(other.GetPotential(0).SequenceEqual(a.GetPotential(0)));
    }

    [Theory]
    [InlineData((int)KernelWidth.Scalar)]
    [InlineData((int)KernelWidth.Vector256)]
    public void Narrower_kernel_paths_give_the_same_state_as_the_widest(int narrowerWidth)
    {
        var narrower = (KernelWidth)narrowerWidth;
        var parameters = SpatialPoolerParameters.Nab;
        var widest = new SpatialPooler(parameters);
        KernelWidth saved = BitKernels.ForcedWidth;
        SpatialPooler other;
        var random = new Random(31);
        var activeWidest = new int[40];
        var activeOther = new int[40];
        try
        {
            BitKernels.ForcedWidth = narrower;
            other = new SpatialPooler(parameters);
        }
        finally
        {
            BitKernels.ForcedWidth = saved;
        }

        for (int step = 0; step < 150; step++)
        {
            ulong[] input = RandomInput(random);
            widest.Compute(input, learn: true, activeWidest);
            try
            {
                BitKernels.ForcedWidth = narrower;
                other.Compute(input, learn: true, activeOther);
            }
            finally
            {
                BitKernels.ForcedWidth = saved;
            }

            Assert.Equal(activeOther, activeWidest);
        }

        for (int c = 0; c < 2048; c++)
        {
            Assert.True(other.GetPermanences(c).SequenceEqual(widest.GetPermanences(c)));
        }

        Assert.True(other.OverlapDutyCycles.SequenceEqual(widest.OverlapDutyCycles));
        Assert.True(other.ActiveDutyCycles.SequenceEqual(widest.ActiveDutyCycles));
    }

    [Fact]
    public void Save_and_load_continue_identically()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.HtmEngine034);
        var random = new Random(5);
        var active = new int[40];
        for (int step = 0; step < 120; step++)
        {
            sp.Compute(RandomInput(random), learn: true, active);
        }

        SpatialPooler restored = RoundTrip(sp);
        Assert.Equal(sp.Parameters, restored.Parameters);
        Assert.Equal(sp.Iteration, restored.Iteration);
        var restoredActive = new int[40];
        for (int step = 0; step < 200; step++)
        {
            ulong[] input = RandomInput(random);
            sp.Compute(input, learn: true, active);
            restored.Compute(input, learn: true, restoredActive);
            Assert.Equal(active, restoredActive);
        }

        for (int c = 0; c < 2048; c++)
        {
            Assert.True(sp.GetPermanences(c).SequenceEqual(restored.GetPermanences(c)));
            Assert.True(sp.GetConnected(c).SequenceEqual(restored.GetConnected(c)));
        }

        Assert.True(sp.OverlapDutyCycles.SequenceEqual(restored.OverlapDutyCycles));
        Assert.Equal(sp.MinOverlapDutyCycle, restored.MinOverlapDutyCycle);
    }

    [Fact]
    public void Compute_does_not_allocate_after_warm_up()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        var random = new Random(6);
        ulong[][] inputs = Enumerable.Range(0, 64).Select(_ => RandomInput(random)).ToArray();
        var active = new int[40];
        for (int step = 0; step < 200; step++)
        {
            sp.Compute(inputs[step % 64], learn: true, active);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 1000; step++)
        {
            sp.Compute(inputs[step % 64], learn: step % 2 == 0, active);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Poolers_share_the_initial_rows_until_learning_changes_them_and_never_write_the_shared_ones()
    {
        var writer = new CheckpointWriter(kind: 3, version: 1);
        new SpatialPooler(SpatialPoolerParameters.Nab).Save(writer);
        byte[] freshBefore = writer.Complete();

        var sp = new SpatialPooler(SpatialPoolerParameters.Nab);
        Assert.Equal(0, sp.OwnedRowCount);
        var random = new Random(21);
        var active = new int[40];
        for (int step = 0; step < 120; step++)
        {
            sp.Compute(RandomInput(random), learn: true, active);
        }

        Assert.InRange(sp.OwnedRowCount, 40, 2047);

        // Had learning written a shared row, every new pooler would start from the changed state.
        writer = new CheckpointWriter(kind: 3, version: 1);
        var fresh = new SpatialPooler(SpatialPoolerParameters.Nab);
        fresh.Save(writer);
        Assert.Equal(freshBefore, writer.Complete());
        Assert.Equal(0, fresh.OwnedRowCount);
    }

    [Fact]
    public void A_young_pooler_round_trips_sharing_the_rows_it_did_not_change()
    {
        var sp = new SpatialPooler(SpatialPoolerParameters.HtmEngine034);
        var random = new Random(22);
        var active = new int[40];
        for (int step = 0; step < 10; step++)
        {
            sp.Compute(RandomInput(random), learn: true, active);
        }

        SpatialPooler restored = RoundTrip(sp);
        Assert.Equal(sp.OwnedRowCount, restored.OwnedRowCount);
        var expected = new int[40];
        for (int step = 0; step < 60; step++)
        {
            ulong[] input = RandomInput(random);
            int n = sp.Compute(input, learn: true, expected);
            Assert.Equal(n, restored.Compute(input, learn: true, active));
            Assert.Equal(expected, active);
        }

        var a = new CheckpointWriter(kind: 3, version: 1);
        var b = new CheckpointWriter(kind: 3, version: 1);
        sp.Save(a);
        restored.Save(b);
        Assert.Equal(a.Complete(), b.Complete());
    }

    [Fact]
    public void Invalid_parameters_and_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new SpatialPooler(SpatialPoolerParameters.Nab with { GlobalInhibition = false }));
        Assert.Throws<ArgumentException>(() => new SpatialPooler(SpatialPoolerParameters.Nab with { BoostStrength = 2f }));
        Assert.Throws<ArgumentException>(() => new SpatialPooler(SpatialPoolerParameters.Nab with { Seed = 0 }));
        SpatialPooler sp = s_fresh.Value;
        Assert.Throws<ArgumentException>(() => sp.Compute(new ulong[7], false, new int[40]));
        Assert.Throws<ArgumentException>(() => sp.Compute(new ulong[8], false, new int[39]));
    }
}
