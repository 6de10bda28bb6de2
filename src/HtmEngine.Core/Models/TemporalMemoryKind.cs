namespace HtmEngine.Core.Models;

/// <summary>Which temporal memory a model runs.</summary>
public enum TemporalMemoryKind
{
    /// <summary>NuPIC's backtracking TM (Cells4): the default, behind the ~70 NAB score.</summary>
    Backtracking,

    /// <summary>The newer TemporalMemory (nupic.core 1.0, NAB's "numentaTM", ~64.6).</summary>
    TemporalMemory,
}
