using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.TemporalMemory;
using Tm = HtmEngine.Core.TemporalMemory.TemporalMemory;

namespace HtmEngine.Tests.Unit.Core.TemporalMemoryTm;

public class TemporalMemoryTests
{
    private static int[][] Sequence(int seed, int length, int columns = 2048, int active = 40)
    {
        var rng = new Random(seed);
        var result = new int[length][];
        for (int i = 0; i < length; i++)
        {
            var set = new SortedSet<int>();
            while (set.Count < active)
            {
                set.Add(rng.Next(columns));
            }

            result[i] = set.ToArray();
        }

        return result;
    }

    // Without resets a cyclic sequence is learned element by element: after ~8 passes every transition but one is
    // predicted, and the one burst moves forward one element every ~8 passes (each burst picks new winner cells,
    // a new context for the successor) until it has gone round the cycle.
    [Fact]
    public void Learns_a_repeating_sequence()
    {
        var tm = new Tm(new TemporalMemoryParameters());
        int[][] seq = Sequence(1, 12);
        var perPass = new List<int>();
        for (int pass = 0; pass < 110; pass++)
        {
            int total = 0;
            foreach (int[] columns in seq)
            {
                total += tm.CountPredicted(columns);
                tm.Compute(columns, learn: true);
            }

            perPass.Add(total);
        }

        Assert.Equal(0, perPass[0]);
        Assert.Equal(11 * 40, perPass[8]);
        Assert.All(perPass.Skip(9), t => Assert.True(t >= 11 * 40, $"{t}"));
        Assert.Contains(12 * 40, perPass.Skip(90)); // the wave has gone round: whole passes fully predicted
        Assert.Null(tm.CheckInvariants());

        // A column set never seen is not predicted after the sequence's last element.
        Assert.True(tm.CountPredicted(Sequence(99, 1)[0]) < 5);
    }

    [Fact]
    public void Bursting_columns_activate_all_their_cells_and_pick_one_winner()
    {
        var tm = new Tm(new TemporalMemoryParameters());
        int[] columns = Sequence(3, 1)[0];
        Assert.Equal(0, tm.CountPredicted(columns));
        tm.Compute(columns, learn: true);
        Assert.Equal(40 * 32, tm.ActiveCells.Length);
        Assert.Equal(40, tm.WinnerCells.Length);
        Assert.Equal(0, tm.SegmentCount); // no previous winners: nothing to grow
        tm.Compute(Sequence(4, 1)[0], learn: true);
        Assert.Equal(40, tm.SegmentCount);
        Assert.Equal(40L * 31, tm.SynapseCount);
    }

    [Fact]
    public void Runs_are_deterministic()
    {
        int[][] stream = Sequence(7, 300);
        var a = new Tm(new TemporalMemoryParameters());
        var b = new Tm(new TemporalMemoryParameters());
        for (int i = 0; i < stream.Length; i++)
        {
            int[] columns = stream[i % 50 < 40 ? i % 40 : i];
            Assert.Equal(a.CountPredicted(columns), b.CountPredicted(columns));
            a.Compute(columns, true);
            b.Compute(columns, true);
            Assert.True(a.WinnerCells.SequenceEqual(b.WinnerCells));
        }

        Assert.Equal(Save(a), Save(b));
    }

    [Fact]
    public void Save_load_continue_equals_continue()
    {
        int[][] stream = Sequence(8, 200);
        var a = new Tm(new TemporalMemoryParameters());
        for (int i = 0; i < 120; i++)
        {
            a.Compute(stream[i % 30], true);
        }

        byte[] bytes = Save(a);
        var reader = new CheckpointReader(bytes, 5, 1);
        Tm b = Tm.Load(ref reader);
        Assert.True(reader.AtEnd);
        for (int i = 120; i < 200; i++)
        {
            int[] columns = i % 3 == 0 ? stream[i] : stream[i % 30];
            Assert.Equal(a.CountPredicted(columns), b.CountPredicted(columns));
            a.Compute(columns, i % 5 != 0);
            b.Compute(columns, i % 5 != 0);
            Assert.True(a.ActiveCells.SequenceEqual(b.ActiveCells));
            Assert.True(a.WinnerCells.SequenceEqual(b.WinnerCells));
        }

        Assert.Equal(Save(a), Save(b));
        Assert.Null(b.CheckInvariants());
    }

    [Fact]
    public void No_allocation_per_step_after_warm_up()
    {
        // Allocation happens only when the pools grow (new segments beyond the pool, a cell's or a presynaptic
        // cell's list outgrowing its block). Once the sequence is learned, learning steps reuse what exists.
        var tm = new Tm(new TemporalMemoryParameters());
        int[][] seq = Sequence(1, 12);
        for (int pass = 0; pass < 100; pass++)
        {
            foreach (int[] columns in seq)
            {
                tm.Compute(columns, true);
            }
        }

        int segments = tm.SegmentCount;
        long before = GC.GetAllocatedBytesForCurrentThread();
        int predicted = 0;
        for (int pass = 0; pass < 5; pass++)
        {
            foreach (int[] columns in seq)
            {
                predicted += tm.CountPredicted(columns);
                tm.Compute(columns, learn: true);
            }

            foreach (int[] columns in seq)
            {
                predicted += tm.CountPredicted(columns);
                tm.Compute(columns, learn: false);
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(segments, tm.SegmentCount);
        Assert.True(predicted >= 10 * 11 * 40, $"{predicted}");
    }

    [Fact]
    public void Segment_and_synapse_limits_hold_under_pressure()
    {
        var p = new TemporalMemoryParameters
        {
            ColumnCount = 64,
            CellsPerColumn = 4,
            ActivationThreshold = 3,
            MinThreshold = 2,
            MaxNewSynapseCount = 5,
            MaxSegmentsPerCell = 2,
            MaxSynapsesPerSegment = 6,
        };
        var tm = new Tm(p);
        var rng = new Random(12);
        for (int step = 0; step < 2000; step++)
        {
            int[] columns = Enumerable.Range(0, 64).Where(_ => rng.Next(8) == 0).ToArray();
            tm.Compute(columns, learn: true);
            if (step % 50 == 0)
            {
                Assert.Null(tm.CheckInvariants());
            }
        }

        Assert.Null(tm.CheckInvariants());
        for (int c = 0; c < 256; c++)
        {
            Assert.InRange(tm.SegmentCountOfCell(c), 0, 2);
        }
    }

    // A seeded property: for random small memories and random input streams (learning on and off), the structural
    // invariants hold after every step and a save/load round trip reproduces the state byte for byte.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Invariants_hold_on_random_streams(int seed)
    {
        var rng = new Random(seed);
        var p = new TemporalMemoryParameters
        {
            ColumnCount = 32 + rng.Next(64),
            CellsPerColumn = 1 + rng.Next(6),
            ActivationThreshold = 1 + rng.Next(4),
            MinThreshold = 1 + rng.Next(3),
            MaxNewSynapseCount = 1 + rng.Next(8),
            InitialPermanence = (float)rng.NextDouble(),
            ConnectedPermanence = (float)rng.NextDouble(),
            PermanenceIncrement = (float)(rng.NextDouble() * 0.2),
            PermanenceDecrement = (float)(rng.NextDouble() * 0.2),
            PredictedSegmentDecrement = rng.Next(2) == 0 ? 0f : (float)(rng.NextDouble() * 0.1),
            MaxSegmentsPerCell = 1 + rng.Next(4),
            MaxSynapsesPerSegment = 1 + rng.Next(10),
            Seed = (ulong)seed,
        };
        var tm = new Tm(p);
        int[][] motifs = Sequence(seed, 6, p.ColumnCount, 1 + (p.ColumnCount / 10));
        for (int step = 0; step < 600; step++)
        {
            int[] columns = rng.Next(3) == 0
                ? Enumerable.Range(0, p.ColumnCount).Where(_ => rng.Next(10) == 0).ToArray()
                : motifs[step % motifs.Length];
            int predicted = tm.CountPredicted(columns);
            Assert.InRange(predicted, 0, columns.Length);
            tm.Compute(columns, learn: rng.Next(5) != 0);
            string? broken = tm.CheckInvariants();
            Assert.True(broken is null, $"step {step}: {broken}");
        }

        byte[] saved = Save(tm);
        var reader = new CheckpointReader(saved, 5, 1);
        Assert.Equal(saved, Save(Tm.Load(ref reader)));
    }

    [Fact]
    public void Rejects_unsorted_columns()
    {
        var tm = new Tm(new TemporalMemoryParameters { ColumnCount = 16, CellsPerColumn = 2 });
        Assert.Throws<ArgumentException>(() => tm.Compute(new[] { 3, 2 }, true));
        Assert.Throws<ArgumentException>(() => tm.Compute(new[] { 16 }, true));
    }

    private static byte[] Save(Tm tm)
    {
        var w = new CheckpointWriter(5, 1);
        tm.Save(w);
        return w.Complete();
    }
}
