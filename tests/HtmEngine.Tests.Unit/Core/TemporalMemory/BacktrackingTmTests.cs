using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.TemporalMemory;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Unit.Core.TemporalMemory;

public class BacktrackingTmTests(ITestOutputHelper output)
{
    private const ushort Kind = 0x7401;

    private static byte[] Checkpoint(BacktrackingTm tm)
    {
        var w = new CheckpointWriter(Kind, 1);
        tm.Save(w);
        return w.Complete();
    }

    private static BacktrackingTm Restore(byte[] bytes)
    {
        var r = new CheckpointReader(bytes, Kind, 1);
        BacktrackingTm tm = BacktrackingTm.Load(ref r);
        Assert.True(r.AtEnd);
        return tm;
    }

    [Fact]
    public void Defaults_are_the_numenta_parameters()
    {
        var p = new BacktrackingTmParameters();
        Assert.Equal((2048, 32, 13, 10, 20), (p.ColumnCount, p.CellsPerColumn, p.ActivationThreshold, p.MinThreshold, p.NewSynapseCount));
        Assert.Equal((0.21f, 0.5f, 0.1f, 0.1f), (p.InitialPermanence, p.ConnectedPermanence, p.PermanenceIncrement, p.PermanenceDecrement));
        Assert.Equal((128, 32, 3, 10, 5, 32, 1960UL), (p.MaxSegmentsPerCell, p.MaxSynapsesPerSegment, p.PamLength, p.MaxInfBacktrack, p.MaxLrnBacktrack, p.MaxSeqLength, p.Seed));
    }

    [Fact]
    public void Predicts_nothing_before_the_first_step()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        Assert.Equal(0, tm.CountPredicted(TmStreams.Sequence(1, 1)[0]));
    }

    [Fact]
    public void Learns_a_repeating_sequence_and_does_not_predict_a_novel_input()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        int[][] seq = TmStreams.Sequence(10, seed: 11);
        var firstPass = new List<int>();
        var lastPass = new List<int>();
        for (int rep = 0; rep < 30; rep++)
        {
            for (int i = 0; i < seq.Length; i++)
            {
                int predicted = tm.CountPredicted(seq[i]);
                if (rep == 0)
                {
                    firstPass.Add(predicted);
                }

                if (rep == 29)
                {
                    lastPass.Add(predicted);
                }

                tm.Compute(seq[i], learn: true);
            }
        }

        output.WriteLine($"first pass {string.Join(',', firstPass)}; last pass {string.Join(',', lastPass)}; segments {tm.SegmentCount}, synapses {tm.SynapseCount}");
        Assert.All(firstPass, p => Assert.True(p <= 3));
        Assert.True(lastPass.Average() >= 38, $"average predicted {lastPass.Average()}");
        Assert.True(lastPass.Min() >= 30);

        // After the last A..J pass the TM expects A; a fresh random input overlaps that only by chance.
        int[] novel = TmStreams.RandomSet(new Random(999));
        Assert.True(tm.CountPredicted(novel) <= 5);
        Assert.Equal(40, tm.CountPredicted(seq[0]));
    }

    [Fact]
    public void Without_inference_backtracking_an_out_of_sequence_input_keeps_the_last_predictions()
    {
        // Nothing to replay (maxInfBacktrack 0): the predictions made at t−1 stand, as when Cells4 copies its t state
        // into t−1 and returns from the backtrack at once. The TM swaps its t and t−1 sets instead of copying them,
        // so this path must hand the t−1 predictions back.
        var tm = new BacktrackingTm(new BacktrackingTmParameters { MaxInfBacktrack = 0 });
        int[][] seq = TmStreams.Sequence(10, seed: 11);
        // Without backtracking an out-of-sequence input freezes inference until a reset, so every pass starts on one.
        for (int rep = 0; rep < 30; rep++)
        {
            tm.Reset();
            for (int i = 0; i < seq.Length; i++)
            {
                tm.Compute(seq[i], learn: true);
            }
        }

        tm.Reset();
        for (int i = 0; i < 3; i++)
        {
            tm.Compute(seq[i], learn: true);
        }

        int expected = tm.CountPredicted(seq[3]);
        Assert.True(expected >= 30, $"the learnt sequence must be predicted ({expected} of 40 columns)");
        int[] novel = TmStreams.RandomSet(new Random(999));
        Assert.True(tm.CountPredicted(novel) < 20, "the novel input must be out of sequence for this test");
        tm.Compute(novel, learn: false);
        Assert.Equal(expected, tm.CountPredicted(seq[3]));

        // Those predictions are also what the next input is matched against: the sequence goes on where it was.
        tm.Compute(seq[3], learn: false);
        Assert.True(tm.CountPredicted(seq[4]) >= 30, $"after resuming, {tm.CountPredicted(seq[4])} of 40 columns predicted");
    }

    [Fact]
    public void Inference_recovers_after_an_out_of_order_element()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        int[][] seq = TmStreams.Sequence(10, seed: 12);
        for (int rep = 0; rep < 30; rep++)
        {
            foreach (int[] x in seq)
            {
                tm.Compute(x, learn: true);
            }
        }

        // A B C then H (skipping D..G): H is unexpected, but I and J must be predicted again.
        tm.Compute(seq[0], learn: true);
        tm.Compute(seq[1], learn: true);
        tm.Compute(seq[2], learn: true);
        Assert.True(tm.CountPredicted(seq[7]) <= 5);
        tm.Compute(seq[7], learn: true);
        int afterJump = tm.CountPredicted(seq[8]);
        tm.Compute(seq[8], learn: true);
        int next = tm.CountPredicted(seq[9]);
        output.WriteLine($"predicted after the jump {afterJump}, then {next}");
        Assert.True(afterJump >= 36);
        Assert.True(next >= 36);
    }

    [Fact]
    public void Inference_only_steps_do_not_learn()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        int[][] seq = TmStreams.Sequence(5, seed: 13);
        foreach (int[] x in seq)
        {
            tm.Compute(x, learn: false);
        }

        Assert.Equal(0, tm.SegmentCount);
        Assert.Equal(0, tm.LearningIteration);
    }

    [Fact]
    public void Random_input_restarts_learning_every_pamLength_steps()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        var rng = new Random(5);
        int maxLength = 0;
        int restarts = 0;
        for (int t = 0; t < 300; t++)
        {
            tm.Compute(TmStreams.RandomSet(rng), learn: true);
            maxLength = Math.Max(maxLength, tm.LearnedSeqLength);
            if (t > 3 && tm.PamCounter == 3)
            {
                restarts++;
                Assert.Equal(0, tm.LearnedSeqLength);
            }
        }

        // Out of sequence every step: pamCounter 3 → 2 → 1 → 0 forces a start-over on the third step.
        Assert.Equal(2, maxLength);
        Assert.InRange(restarts, 90, 100);
        Assert.Null(tm.FindInvariantViolation());
    }

    [Fact]
    public void A_long_learned_sequence_is_cut_into_chunks_of_maxSeqLength()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        int[][] seq = TmStreams.Sequence(10, seed: 14);
        int maxLength = 0;
        bool sawRestartAtLimit = false;
        int previous = 0;
        var trace = new List<int>();
        for (int rep = 0; rep < 60; rep++)
        {
            foreach (int[] x in seq)
            {
                tm.Compute(x, learn: true);
                maxLength = Math.Max(maxLength, tm.LearnedSeqLength);
                trace.Add(tm.LearnedSeqLength);
                if (previous == tm.Parameters.MaxSeqLength - 1 && tm.LearnedSeqLength <= tm.Parameters.MaxLrnBacktrack)
                {
                    sawRestartAtLimit = true;
                }

                previous = tm.LearnedSeqLength;
            }
        }

        output.WriteLine(string.Join(',', trace.Skip(300)));
        Assert.True(maxLength < tm.Parameters.MaxSeqLength);
        Assert.True(sawRestartAtLimit);
        Assert.Null(tm.FindInvariantViolation());
    }

    [Fact]
    public void Reset_clears_predictions_and_restarts_on_start_cells()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        int[][] seq = TmStreams.Sequence(6, seed: 15);
        for (int rep = 0; rep < 10; rep++)
        {
            foreach (int[] x in seq)
            {
                tm.Compute(x, learn: true);
            }
        }

        Assert.True(tm.CountPredicted(seq[0]) > 30);
        tm.Reset();
        Assert.Equal(0, tm.CountPredicted(seq[0]));
        tm.Compute(seq[3], learn: true);
        int[] active = tm.InferenceActiveCells.ToArray();
        Array.Sort(active);
        Assert.Equal(seq[3].Select(c => c * 32).ToArray(), active);
        int[] learning = tm.LearningActiveCells.ToArray();
        Array.Sort(learning);
        Assert.Equal(seq[3].Select(c => c * 32).ToArray(), learning);
        Assert.Equal(0, tm.LearnedSeqLength);
    }

    [Fact]
    public void Same_seed_and_stream_give_identical_predictions_and_checkpoints()
    {
        var a = new BacktrackingTm(new BacktrackingTmParameters());
        var b = new BacktrackingTm(new BacktrackingTmParameters());
        foreach (int[] x in NoisyStream(600, seed: 16))
        {
            Assert.Equal(a.CountPredicted(x), b.CountPredicted(x));
            a.Compute(x, learn: true);
            b.Compute(x, learn: true);
        }

        Assert.Equal(Checkpoint(a), Checkpoint(b));
    }

    [Fact]
    public void Deferred_queued_updates_give_the_model_that_eager_ones_give()
    {
        // Learning phase 2 works out a queued update's sources only if it is applied; the checkpoint writes them out.
        // A TM that builds every update at once, as Cells4 does, must predict the same and save the same bytes, with
        // updates queued at every checkpoint taken here.
        var deferred = new BacktrackingTm(new BacktrackingTmParameters());
        var eager = new BacktrackingTm(new BacktrackingTmParameters()) { DeferQueuedUpdates = false };
        int[][] stream = NoisyStream(800, seed: 18);
        int queuedAtCheckpoints = 0;
        for (int t = 0; t < stream.Length; t++)
        {
            Assert.Equal(eager.CountPredicted(stream[t]), deferred.CountPredicted(stream[t]));
            eager.Compute(stream[t], learn: true);
            deferred.Compute(stream[t], learn: true);
            if (t % 50 == 37) // not after the stream's random inputs (every 25th), which queue nothing
            {
                queuedAtCheckpoints += deferred.QueuedUpdateCount;
                Assert.Equal(Checkpoint(eager), Checkpoint(deferred));
                Assert.Null(deferred.FindInvariantViolation());
            }
        }

        Assert.True(queuedAtCheckpoints > 0, "no update was queued when the checkpoints were taken");
        Assert.Equal(Checkpoint(eager), Checkpoint(deferred));
    }

    [Fact]
    public void Save_load_then_continue_equals_the_uninterrupted_run()
    {
        int[][] stream = NoisyStream(700, seed: 17);
        var uninterrupted = new BacktrackingTm(new BacktrackingTmParameters());
        var first = new BacktrackingTm(new BacktrackingTmParameters());
        for (int t = 0; t < 400; t++)
        {
            uninterrupted.Compute(stream[t], learn: true);
            first.Compute(stream[t], learn: true);
        }

        BacktrackingTm restored = RestoreAndCheck(Checkpoint(first));
        Assert.Null(restored.FindInvariantViolation());
        ContinueInLockstep(uninterrupted, restored, stream, from: 400);
    }

    /// <summary>Loads a checkpoint and checks that the loaded TM saves the same bytes.</summary>
    private static BacktrackingTm RestoreAndCheck(byte[] saved)
    {
        BacktrackingTm restored = Restore(saved);
        Assert.Equal(saved, Checkpoint(restored));
        return restored;
    }

    /// <summary>Steps both TMs through the rest of the stream: the same predictions at every step, the same bytes at the end.</summary>
    private static void ContinueInLockstep(BacktrackingTm expected, BacktrackingTm actual, int[][] stream, int from)
    {
        for (int t = from; t < stream.Length; t++)
        {
            Assert.Equal(expected.CountPredicted(stream[t]), actual.CountPredicted(stream[t]));
            expected.Compute(stream[t], learn: true);
            actual.Compute(stream[t], learn: true);
        }

        Assert.Equal(Checkpoint(expected), Checkpoint(actual));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)] // not a power of two: columns of cells by division, not by shift
    public void Segment_and_synapse_limits_hold_under_stress(int cellsPerColumn)
    {
        var p = new BacktrackingTmParameters
        {
            ColumnCount = 32,
            CellsPerColumn = cellsPerColumn,
            ActivationThreshold = 4,
            MinThreshold = 3,
            NewSynapseCount = 6,
            MaxSegmentsPerCell = 3,
            MaxSynapsesPerSegment = 8,
        };
        var tm = new BacktrackingTm(p);
        var rng = new Random(18);
        int[][] seq = TmStreams.Sequence(7, seed: 19, active: 6, columns: 32);
        for (int t = 0; t < 3000; t++)
        {
            int[] x = t % 3 == 0 ? TmStreams.RandomSet(rng, 6, 32) : seq[t % seq.Length];
            tm.Compute(x, learn: true);
            if (t % 50 == 0)
            {
                Assert.Null(tm.FindInvariantViolation());
            }
        }

        Assert.Null(tm.FindInvariantViolation());
        output.WriteLine($"segments {tm.SegmentCount}, synapses {tm.SynapseCount}");
        Assert.Equal(3, tm.MaxSegmentsOnAnyCell());
        Assert.Equal(8, tm.MaxSynapsesOnAnySegment());
        // Start cells never get segments from getCellForNewSegment; the other cells of each column are full.
        Assert.True(tm.SegmentCount <= 32 * (cellsPerColumn - 1) * 3);
    }

    [Fact]
    public void A_tm_that_grows_past_its_initial_sizes_equals_one_reserved_for_the_worst_case()
    {
        // The default TM starts with room for a few hundred segments and short cell lists and grows them; the
        // reserved one never grows. Growth must not change a prediction or a checkpoint byte.
        var grown = new BacktrackingTm(new BacktrackingTmParameters());
        var reserved = new BacktrackingTm(new BacktrackingTmParameters());
        reserved.ReserveSegments(1 << 14);
        int[][] stream = NoisyStream(900, seed: 23);
        foreach (int[] x in stream)
        {
            Assert.Equal(reserved.CountPredicted(x), grown.CountPredicted(x));
            reserved.Compute(x, learn: true);
            grown.Compute(x, learn: true);
        }

        Assert.True(grown.SegmentCount > 1024, $"only {grown.SegmentCount} segments: the stream did not grow the storage");
        Assert.Equal(Checkpoint(reserved), Checkpoint(grown));
    }

    [Fact]
    public void A_tm_grown_into_poisoned_storage_equals_one_grown_into_zeroed_storage()
    {
        // Segment arrays and forward-index data grow into arrays that are not zeroed. Filled with 0xFF instead (what
        // recycled memory may hold), every entry of a new segment id must still be written before it is read: a
        // fresh id's generation, broken-link count and activity counter above all (a checkpoint writes the generation).
        var poisoned = new BacktrackingTm(new BacktrackingTmParameters());
        var plain = new BacktrackingTm(new BacktrackingTmParameters());
        int[][] stream = NoisyStream(900, seed: 25);
        try
        {
            foreach (int[] x in stream)
            {
                Assert.Equal(plain.CountPredicted(x), poisoned.CountPredicted(x));
                UninitializedGrowth.PoisonForTests = true;
                poisoned.Compute(x, learn: true);
                UninitializedGrowth.PoisonForTests = false;
                plain.Compute(x, learn: true);
            }
        }
        finally
        {
            UninitializedGrowth.PoisonForTests = false;
        }

        Assert.True(poisoned.SegmentCapacity > 256, $"capacity {poisoned.SegmentCapacity}: the stream did not grow the storage");
        Assert.Null(poisoned.FindInvariantViolation());
        Assert.Equal(Checkpoint(plain), Checkpoint(poisoned));
        ContinueInLockstep(plain, RestoreAndCheck(Checkpoint(poisoned)), NoisyStream(60, seed: 26), from: 0);
    }

    [Fact]
    public void A_young_tm_grows_its_segment_storage_once_for_its_first_thousands_of_segments()
    {
        // 256 segments fresh, then room for 16,384 at once (2,048 when the GC has committed half the memory it may use,
        // which a test process does not), then doubling: a young model's copies into untouched memory cost it page
        // faults (Core README, items 26 and 31).
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        Assert.Equal(256, tm.SegmentCapacity);
        int[][] stream = NoisyStream(900, seed: 23);
        int capacities = 0;
        int last = tm.SegmentCapacity;
        foreach (int[] x in stream)
        {
            tm.Compute(x, learn: true);
            if (tm.SegmentCapacity != last)
            {
                capacities++;
                last = tm.SegmentCapacity;
                Assert.Equal(16384 << (capacities - 1), last);
            }
        }

        Assert.True(capacities >= 1);
    }

    [Theory]
    [InlineData(24L << 30, 0, 16384)]
    [InlineData(24L << 30, (12L << 30) - 1, 16384)]
    [InlineData(24L << 30, 12L << 30, 2048)]
    [InlineData(1L << 30, 600L << 20, 2048)]
    [InlineData(1L << 30, 100L << 20, 16384)]
    public void The_first_growth_reserves_more_only_while_the_GC_has_committed_under_half_its_memory(long available, long committed, int expected)
    {
        // Room reserved and not yet used costs no pages but counts as committed, which a GC hard limit (a container's)
        // and strict overcommit charge.
        Assert.Equal(expected, BacktrackingTm.GrownSegmentsFor(available, committed));
    }

    [Fact]
    public void SegmentsOnCell_counts_live_segments_while_segments_are_freed_and_their_slots_reused()
    {
        // The count is derived from the slot lists (slots less the freed slots waiting on the cell's stack), not kept per
        // cell. Segments are freed here by hand too: learning takes a slot it freed again at once.
        var p = new BacktrackingTmParameters
        {
            ColumnCount = 32,
            CellsPerColumn = 4,
            ActivationThreshold = 4,
            MinThreshold = 3,
            NewSynapseCount = 6,
            MaxSegmentsPerCell = 3,
            MaxSynapsesPerSegment = 8,
        };
        var tm = new BacktrackingTm(p);
        int[][] seq = TmStreams.Sequence(7, seed: 27, active: 6, columns: 32);
        var rng = new Random(28);
        int freedByHand = 0;
        for (int t = 0; t < 1500; t++)
        {
            int[] x = rng.Next(3) == 0 ? TmStreams.RandomSet(rng, active: 6, columns: 32) : seq[t % seq.Length];
            tm.Compute(x, learn: true);
            if (t % 10 == 9)
            {
                int cell = rng.Next(tm.CellCount);
                int before = tm.SegmentsOnCell(cell);
                if (before > 0)
                {
                    tm.ReleaseFirstSegmentOn(cell);
                    Assert.Equal(before - 1, tm.SegmentsOnCell(cell));
                    freedByHand++;
                }

                int sum = 0;
                for (int c = 0; c < tm.CellCount; c++)
                {
                    Assert.InRange(tm.SegmentsOnCell(c), 0, 3);
                    sum += tm.SegmentsOnCell(c);
                }

                Assert.Equal(tm.SegmentCount, sum);
                Assert.Null(tm.FindInvariantViolation());
            }
        }

        Assert.True(freedByHand > 20, $"only {freedByHand} segments freed by hand");
    }

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    public void A_tm_whose_synapse_blocks_widen_when_a_segment_exceeds_the_cap_equals_one_wide_from_the_start(int seed)
    {
        // Blocks start at the cap and widen to twice the cap when Cells4's stale-index freeing first leaves a segment
        // above it; the synapses are the same either way, and so must be every prediction and checkpoint byte, also
        // for a TM restored (at the narrow stride) from a checkpoint that holds a segment above the cap.
        var p = new BacktrackingTmParameters
        {
            ColumnCount = 128,
            CellsPerColumn = 4,
            ActivationThreshold = 6,
            MinThreshold = 4,
            NewSynapseCount = 20,
            MaxSegmentsPerCell = 8,
            MaxSynapsesPerSegment = 32, // as NAB's: blocks of 32 entries, widened to 64
            PermanenceDecrement = 0.07f,
            PermanenceIncrement = 0.02f,
        };
        var narrow = new BacktrackingTm(p);
        var wide = new BacktrackingTm(p);
        wide.WidenSynapseStrideForTests();
        Assert.True(wide.SynapseStride > narrow.SynapseStride);
        int[][] seq = TmStreams.Sequence(6, seed: seed, active: 24, columns: 128);
        var rng = new Random(seed);
        int widenedAt = -1;
        for (int t = 0; t < 600; t++)
        {
            int[] x = rng.Next(4) == 0 ? TmStreams.RandomSet(rng, active: 24, columns: 128) : seq[t % seq.Length];
            Assert.Equal(wide.CountPredicted(x), narrow.CountPredicted(x));
            narrow.Compute(x, learn: true);
            wide.Compute(x, learn: true);
            if (widenedAt < 0 && narrow.SynapseStride == wide.SynapseStride)
            {
                widenedAt = t;
                Assert.True(narrow.MaxSynapsesOnAnySegment() > 32);
                Assert.Equal(Checkpoint(wide), Checkpoint(narrow));
            }
        }

        Assert.True(widenedAt >= 0, "no segment exceeded the cap: the stream did not reach the quirk");
        Assert.Null(narrow.FindInvariantViolation());
        Assert.Equal(Checkpoint(wide), Checkpoint(narrow));
        BacktrackingTm restored = RestoreAndCheck(Checkpoint(narrow));
        Assert.Equal(wide.SynapseStride, restored.SynapseStride);
        ContinueInLockstep(wide, restored, TmStreams.Sequence(100, seed: seed + 100, active: 24, columns: 128), from: 0);
    }

    [Fact]
    public void A_fresh_and_a_young_tm_round_trip_before_any_segment_is_freed()
    {
        // No segment freed yet: the free-slot stacks do not exist in memory and must still be written as an empty pool.
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        byte[] fresh = Checkpoint(tm);
        Assert.Equal(fresh, Checkpoint(Restore(fresh)));
        int[][] stream = NoisyStream(60, seed: 24);
        var twin = new BacktrackingTm(new BacktrackingTmParameters());
        for (int t = 0; t < 5; t++)
        {
            tm.Compute(stream[t], learn: true);
            twin.Compute(stream[t], learn: true);
        }

        BacktrackingTm restored = RestoreAndCheck(Checkpoint(tm));
        ContinueInLockstep(twin, restored, stream, from: 5);
    }

    [Theory]
    [InlineData(65_536)]
    [InlineData(1_000)]
    [InlineData(3)]
    public void An_absent_int_list_pool_is_written_as_a_new_one(int lists)
    {
        var expected = new CheckpointWriter(Kind, 1);
        new IntListPool(lists, 64).Save(expected);
        var actual = new CheckpointWriter(Kind, 1);
        IntListPool.SaveEmpty(actual, lists);
        Assert.Equal(expected.Complete(), actual.Complete());
    }

    [Fact]
    public void Compute_allocates_nothing_after_warm_up()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        tm.ReserveSegments(1 << 16);
        int[][] stream = NoisyStream(3000, seed: 20);
        for (int t = 0; t < 2500; t++)
        {
            tm.CountPredicted(stream[t]);
            tm.Compute(stream[t], learn: true);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int predicted = 0;
        for (int t = 2500; t < 3000; t++)
        {
            long b0 = GC.GetAllocatedBytesForCurrentThread();
            predicted += tm.CountPredicted(stream[t]);
            tm.Compute(stream[t], learn: true);
            long d = GC.GetAllocatedBytesForCurrentThread() - b0;
            if (d != 0)
            {
                output.WriteLine($"step {t}: {d} B");
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"allocated {allocated} B over 500 steps; predicted {predicted}; segments {tm.SegmentCount}");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Rejects_unsorted_or_out_of_range_columns()
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        Assert.Throws<ArgumentException>(() => tm.Compute([5, 3], learn: true));
        Assert.Throws<ArgumentException>(() => tm.Compute([2048], learn: true));
        Assert.Throws<ArgumentException>(() => tm.Compute([4, 4], learn: true));
    }

    [Fact]
    public void Refuses_more_possible_segments_than_a_forward_link_can_name_and_says_why()
    {
        // 2048 × 32 × 128 = 2^23 segments is the limit (the NAB and htmengine parameter sets sit exactly on it).
        _ = new BacktrackingTm(new BacktrackingTmParameters { MaxSegmentsPerCell = 128 });
        var e = Assert.Throws<ArgumentException>(() => new BacktrackingTm(new BacktrackingTmParameters { MaxSegmentsPerCell = 129 }));
        Assert.Contains("max segments per cell", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BacktrackingTmParameters { MaxSynapsesPerSegment = 128 }.Validate());
    }

    /// <summary>A 20-element sequence with 2 noisy columns per step, and a random input every 25th step.</summary>
    internal static int[][] NoisyStream(int length, int seed)
    {
        var rng = new Random(seed);
        int[][] seq = TmStreams.Sequence(20, seed + 1000);
        var stream = new int[length][];
        for (int t = 0; t < length; t++)
        {
            stream[t] = t % 25 == 24 ? TmStreams.RandomSet(rng) : TmStreams.WithNoise(seq[t % seq.Length], rng, 2);
        }

        return stream;
    }
}
