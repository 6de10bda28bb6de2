using FsCheck.Xunit;
using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Tests.Property.Core.TemporalMemory;

public class BacktrackingTmProperties
{
    private const ushort Kind = 0x7401;

    /// <summary>A small TM whose limits are reached within a few hundred steps.</summary>
    private static readonly BacktrackingTmParameters s_small = new()
    {
        ColumnCount = 64,
        CellsPerColumn = 6,
        ActivationThreshold = 5,
        MinThreshold = 3,
        NewSynapseCount = 7,
        MaxSegmentsPerCell = 4,
        MaxSynapsesPerSegment = 9,
    };

    /// <summary>
    /// A stream shaped by the generated arguments: a repeating sequence of <paramref name="sequenceLength"/>
    /// sets with per-step noise, interleaved with random sets, occasional empty inputs and resets (null).
    /// </summary>
    private static List<int[]?> Stream(int seed, int steps, int sequenceLength, int noise, int columns, int active)
    {
        var rng = new Random(seed);
        var seq = new int[sequenceLength][];
        for (int i = 0; i < sequenceLength; i++)
        {
            seq[i] = RandomSet(rng, active, columns);
        }

        var stream = new List<int[]?>(steps);
        for (int t = 0; t < steps; t++)
        {
            int roll = rng.Next(100);
            if (roll < 2)
            {
                stream.Add(null);
            }
            else if (roll < 4)
            {
                stream.Add([]);
            }
            else if (roll < 4 + noise)
            {
                stream.Add(RandomSet(rng, rng.Next(1, active * 2), columns));
            }
            else
            {
                var set = new SortedSet<int>(seq[t % sequenceLength]);
                if (rng.Next(4) == 0)
                {
                    set.Remove(set.Min);
                    set.Add(rng.Next(columns));
                }

                stream.Add([.. set]);
            }
        }

        return stream;
    }

    private static int[] RandomSet(Random rng, int count, int columns)
    {
        var set = new SortedSet<int>();
        while (set.Count < count)
        {
            set.Add(rng.Next(columns));
        }

        return [.. set];
    }

    private static void Step(BacktrackingTm tm, int[]? input)
    {
        if (input is null)
        {
            tm.Reset();
        }
        else
        {
            tm.CountPredicted(input);
            tm.Compute(input, learn: true);
        }
    }

    private static byte[] Save(BacktrackingTm tm)
    {
        var w = new CheckpointWriter(Kind, 1);
        tm.Save(w);
        return w.Complete();
    }

    [Property(MaxTest = 40)]
    public bool Structural_invariants_hold_after_every_step(int seed, byte sequenceLength, byte noise)
    {
        var tm = new BacktrackingTm(s_small);
        foreach (int[]? input in Stream(seed, 300, 2 + (sequenceLength % 9), noise % 60, 64, 8))
        {
            Step(tm, input);
            string? violation = tm.FindInvariantViolation();
            if (violation is not null)
            {
                throw new InvalidOperationException(violation);
            }
        }

        // Cells4 frees overflowing synapses by positions that its own removals have shifted, so a segment can end
        // up above maxSynapsesPerSegment (NuPIC's published scores depend on it); storage bounds it at twice that.
        return tm.MaxSegmentsOnAnyCell() <= 4 && tm.MaxSynapsesOnAnySegment() <= 2 * 9;
    }

    [Property(MaxTest = 8)]
    public bool Invariants_hold_with_the_numenta_parameters(int seed, byte noise)
    {
        var tm = new BacktrackingTm(new BacktrackingTmParameters());
        List<int[]?> stream = Stream(seed, 200, 12, noise % 40, 2048, 40);
        for (int t = 0; t < stream.Count; t++)
        {
            Step(tm, stream[t]);
            if (t % 20 == 19 && tm.FindInvariantViolation() is { } violation)
            {
                throw new InvalidOperationException(violation);
            }
        }

        return tm.FindInvariantViolation() is null;
    }

    [Property(MaxTest = 30)]
    public bool Predicted_column_count_agrees_with_the_summed_confidences(int seed, byte sequenceLength, byte noise)
    {
        // CountPredicted answers from the duty cycles' signs before the confidences are summed; reading
        // ColumnConfidence afterwards sums them in Cells4's order. Both must name the same columns at every step.
        var tm = new BacktrackingTm(s_small);
        foreach (int[]? input in Stream(seed, 300, 2 + (sequenceLength % 9), noise % 60, 64, 8))
        {
            if (input is not null)
            {
                int fast = tm.CountPredicted(input);
                ReadOnlySpan<float> confidence = tm.ColumnConfidence;
                int summed = 0;
                foreach (int column in input)
                {
                    summed += confidence[column] > 0f ? 1 : 0;
                }

                if (fast != summed)
                {
                    return false;
                }
            }

            Step(tm, input);
        }

        return true;
    }

    [Property(MaxTest = 25)]
    public bool Save_load_continue_equals_continue(int seed, byte sequenceLength, byte noise, byte split)
    {
        List<int[]?> stream = Stream(seed, 240, 2 + (sequenceLength % 9), noise % 60, 64, 8);
        int cut = 1 + (split % (stream.Count - 1));
        var straight = new BacktrackingTm(s_small);
        var interrupted = new BacktrackingTm(s_small);
        for (int t = 0; t < cut; t++)
        {
            Step(straight, stream[t]);
            Step(interrupted, stream[t]);
        }

        byte[] bytes = Save(interrupted);
        var reader = new CheckpointReader(bytes, Kind, 1);
        BacktrackingTm restored = BacktrackingTm.Load(ref reader);
        for (int t = cut; t < stream.Count; t++)
        {
            if (stream[t] is { } input && straight.CountPredicted(input) != restored.CountPredicted(input))
            {
                return false;
            }

            Step(straight, stream[t]);
            Step(restored, stream[t]);
        }

        return Save(straight).AsSpan().SequenceEqual(Save(restored));
    }
}
