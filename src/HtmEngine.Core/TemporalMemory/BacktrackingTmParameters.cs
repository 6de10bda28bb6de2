namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// Parameters of the backtracking temporal memory (NuPIC's <c>Cells4</c>). The defaults are the NAB "numenta"
/// detector's set (htm-algorithm.md §1.6), which htmengine-0.3.4 uses as well.
/// </summary>
public sealed record BacktrackingTmParameters
{
    /// <summary>Number of columns (the spatial pooler's output width).</summary>
    public int ColumnCount { get; init; } = 2048;

    /// <summary>Cells per column; cell 0 of each column is the start cell.</summary>
    public int CellsPerColumn { get; init; } = 32;

    /// <summary>Active synapses a segment needs to be active (and to count for the confidence).</summary>
    public int ActivationThreshold { get; init; } = 13;

    /// <summary>Active synapses a segment needs to be the best match of an unpredicted column in learning phase 1.</summary>
    public int MinThreshold { get; init; } = 10;

    /// <summary>How many synapses a learning segment grows towards.</summary>
    public int NewSynapseCount { get; init; } = 20;

    /// <summary>Permanence of a new synapse.</summary>
    public float InitialPermanence { get; init; } = 0.21f;

    /// <summary>Permanence at which a synapse is connected.</summary>
    public float ConnectedPermanence { get; init; } = 0.5f;

    /// <summary>Increment of the active synapses of a reinforced segment.</summary>
    public float PermanenceIncrement { get; init; } = 0.1f;

    /// <summary>Decrement of the inactive synapses of a reinforced segment.</summary>
    public float PermanenceDecrement { get; init; } = 0.1f;

    /// <summary>Largest number of segments on one cell (fixed-size mode; at most 255).</summary>
    public int MaxSegmentsPerCell { get; init; } = 128;

    /// <summary>Largest number of synapses on one segment (fixed-size mode; at most 127).</summary>
    public int MaxSynapsesPerSegment { get; init; } = 32;

    /// <summary>Steps out of sequence after which learning starts over (pamLength).</summary>
    public int PamLength { get; init; } = 3;

    /// <summary>How many past inputs inference backtracking may replay.</summary>
    public int MaxInfBacktrack { get; init; } = 10;

    /// <summary>How many past inputs learning backtracking may replay.</summary>
    public int MaxLrnBacktrack { get; init; } = 5;

    /// <summary>Longest learned chunk before learning starts over; 0 disables the limit.</summary>
    public int MaxSeqLength { get; init; } = 32;

    /// <summary>Seed of the TM's NuPIC random generator.</summary>
    public ulong Seed { get; init; } = 1960;

    /// <summary>Checks that the values are inside what this implementation supports.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        Check(ColumnCount is > 0 and <= 1 << 20, nameof(ColumnCount));
        Check(CellsPerColumn is > 1 and <= 256, nameof(CellsPerColumn));
        Check((long)ColumnCount * CellsPerColumn <= 1 << 24, nameof(CellsPerColumn));
        // Storage holds twice the cap (Cells4 can overshoot it) and a segment's active synapses are counted in a byte.
        Check(MaxSynapsesPerSegment is > 0 and <= 127, nameof(MaxSynapsesPerSegment));
        Check(MaxSegmentsPerCell is > 0 and <= 255, nameof(MaxSegmentsPerCell));
        Check(ActivationThreshold is > 0 and <= 255, nameof(ActivationThreshold));
        Check(MinThreshold is > 0 and <= 255, nameof(MinThreshold));
        Check(NewSynapseCount > 0 && NewSynapseCount <= MaxSynapsesPerSegment, nameof(NewSynapseCount));
        Check(InitialPermanence is > 0f and <= 1f, nameof(InitialPermanence));
        Check(ConnectedPermanence is > 0f and <= 1f, nameof(ConnectedPermanence));
        Check(PermanenceIncrement is >= 0f and <= 1f, nameof(PermanenceIncrement));
        Check(PermanenceDecrement is >= 0f and <= 1f, nameof(PermanenceDecrement));
        Check(PamLength > 0, nameof(PamLength));
        Check(MaxInfBacktrack is >= 0 and <= 1000, nameof(MaxInfBacktrack));
        Check(MaxLrnBacktrack is >= 0 and <= 1000, nameof(MaxLrnBacktrack));
        Check(MaxSeqLength >= 0, nameof(MaxSeqLength));
        Check(Seed != 0, nameof(Seed));
    }

    private static void Check(bool ok, string name)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, "Backtracking TM parameter out of the supported range.");
        }
    }
}
