using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// What the model needs from a temporal memory: learn sequences of active-column sets and say which columns it
/// expected. Implemented by the backtracking TM (the default, NuPIC's Cells4) and by the newer TemporalMemory.
/// </summary>
public interface ISequenceMemory
{
    /// <summary>Number of columns (the spatial pooler's output width).</summary>
    int ColumnCount { get; }

    /// <summary>
    /// Counts how many of <paramref name="activeColumns"/> the memory predicted for the coming step, i.e. from the
    /// state left by the previous <see cref="Compute"/> (the "prevPredictedColumns" of the raw anomaly score).
    /// Call it before <see cref="Compute"/> for the same step. Returns 0 before the first step.
    /// </summary>
    int CountPredicted(ReadOnlySpan<int> activeColumns);

    /// <summary>Runs one step on a sorted, duplicate-free set of active columns, learning when asked.</summary>
    void Compute(ReadOnlySpan<int> activeColumns, bool learn);

    /// <summary>Writes the complete state (parameters, connections, RNG, per-step state) to a checkpoint.</summary>
    void Save(CheckpointWriter writer);
}
