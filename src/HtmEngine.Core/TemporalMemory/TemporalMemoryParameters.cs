namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// Parameters of <see cref="TemporalMemory"/> (nupic.core 1.0). The defaults are NAB's numentaTM detector
/// (htm-algorithm.md §1.6).
/// </summary>
public sealed record TemporalMemoryParameters
{
    /// <summary>Number of columns.</summary>
    public int ColumnCount { get; init; } = 2048;

    /// <summary>Cells per column.</summary>
    public int CellsPerColumn { get; init; } = 32;

    /// <summary>Active connected synapses that make a segment active (predictive).</summary>
    public int ActivationThreshold { get; init; } = 20;

    /// <summary>Active potential synapses that make a segment matching.</summary>
    public int MinThreshold { get; init; } = 13;

    /// <summary>Synapses grown per learning segment, at most.</summary>
    public int MaxNewSynapseCount { get; init; } = 31;

    /// <summary>Permanence of a new synapse.</summary>
    public float InitialPermanence { get; init; } = 0.24f;

    /// <summary>Permanence at which a synapse is connected.</summary>
    public float ConnectedPermanence { get; init; } = 0.5f;

    /// <summary>Reinforcement of synapses from previously active cells.</summary>
    public float PermanenceIncrement { get; init; } = 0.04f;

    /// <summary>Decay of the other synapses of a learning segment.</summary>
    public float PermanenceDecrement { get; init; } = 0.008f;

    /// <summary>Punishment of matching segments in columns that did not become active (0 disables).</summary>
    public float PredictedSegmentDecrement { get; init; } = 0.001f;

    /// <summary>Segments per cell; the least recently used one is destroyed to make room.</summary>
    public int MaxSegmentsPerCell { get; init; } = 128;

    /// <summary>Synapses per segment; the weakest non-winner synapses are destroyed to make room.</summary>
    public int MaxSynapsesPerSegment { get; init; } = 128;

    /// <summary>Seed of NuPIC's random generator.</summary>
    public ulong Seed { get; init; } = 1960;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ColumnCount, 1, nameof(ColumnCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(CellsPerColumn, 1, nameof(CellsPerColumn));
        ArgumentOutOfRangeException.ThrowIfLessThan(ActivationThreshold, 1, nameof(ActivationThreshold));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinThreshold, 1, nameof(MinThreshold));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxNewSynapseCount, 1, nameof(MaxNewSynapseCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSegmentsPerCell, 1, nameof(MaxSegmentsPerCell));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSynapsesPerSegment, 1, nameof(MaxSynapsesPerSegment));
        if ((long)ColumnCount * CellsPerColumn > int.MaxValue / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(CellsPerColumn), "Too many cells.");
        }

        if (!(InitialPermanence >= 0 && InitialPermanence <= 1) || !(ConnectedPermanence >= 0 && ConnectedPermanence <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(InitialPermanence), "Permanences must lie in [0, 1].");
        }
    }
}
