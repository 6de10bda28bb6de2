namespace HtmEngine.Core.SpatialPooling;

/// <summary>
/// Parameters of the spatial pooler (htm-algorithm.md §1.5). The defaults are NuPIC 1.0's NAB values; permanence
/// parameters are float32 because NuPIC computes with them in float32. Derived values follow NuPIC:
/// <see cref="SynPermBelowStimulusInc"/> = connected / 10 and <see cref="SynPermTrimThreshold"/> = activeInc / 2.
/// </summary>
public sealed record SpatialPoolerParameters
{
    /// <summary>The NAB ("numenta" detector, NuPIC 1.0) parameter set.</summary>
    public static SpatialPoolerParameters Nab { get; } = new();

    /// <summary>The htmengine 0.3.4 model template: connected 0.1, inc 0.0015, dec 0.0005, no boosting (maxBoost 1.0).</summary>
    public static SpatialPoolerParameters HtmEngine034 { get; } = new()
    {
        SynPermConnected = 0.1f,
        SynPermActiveInc = 0.0015f,
        SynPermInactiveDec = 0.0005f,
    };

    /// <summary>Input bits (454 for time of day + RDSE). The potential radius is always the whole input.</summary>
    public int InputWidth { get; init; } = 454;

    /// <summary>Number of columns (1-D).</summary>
    public int ColumnCount { get; init; } = 2048;

    /// <summary>Fraction of the input each column may connect to; round(inputWidth × pct) potential synapses.</summary>
    public float PotentialPct { get; init; } = 0.8f;

    /// <summary>Global inhibition; the only mode implemented (NuPIC's NAB model uses it).</summary>
    public bool GlobalInhibition { get; init; } = true;

    /// <summary>Active columns per step (numActiveColumnsPerInhArea).</summary>
    public int NumActiveColumnsPerInhArea { get; init; } = 40;

    /// <summary>Minimum overlap for a column to compete.</summary>
    public float StimulusThreshold { get; init; }

    /// <summary>Permanence increment for synapses on active inputs of a winning column.</summary>
    public float SynPermActiveInc { get; init; } = 0.003f;

    /// <summary>Permanence decrement for synapses on inactive inputs of a winning column.</summary>
    public float SynPermInactiveDec { get; init; } = 0.0005f;

    /// <summary>Permanence at or above which (less 1e−6) a synapse is connected.</summary>
    public float SynPermConnected { get; init; } = 0.2f;

    /// <summary>Weak-column threshold as a fraction of the largest overlap duty cycle.</summary>
    public float MinPctOverlapDutyCycle { get; init; } = 0.001f;

    /// <summary>Window of the duty-cycle moving averages.</summary>
    public int DutyCyclePeriod { get; init; } = 1000;

    /// <summary>Boost strength; 0 disables boosting (NAB, and htmengine's maxBoost 1.0).</summary>
    public float BoostStrength { get; init; }

    /// <summary>Generator seed for the potential pools and initial permanences.</summary>
    public ulong Seed { get; init; } = 1956;

    /// <summary>Increment applied to every potential synapse of a weak column (connected / 10).</summary>
    public float SynPermBelowStimulusInc => SynPermConnected / 10f;

    /// <summary>Permanences below this become 0 (activeInc / 2).</summary>
    public float SynPermTrimThreshold => SynPermActiveInc / 2f;

    /// <summary>Throws <see cref="ArgumentException"/> describing the first invalid parameter.</summary>
    public void Validate()
    {
        Require(InputWidth is > 0 and <= 65_535, nameof(InputWidth), "must be in [1, 65535]");
        Require(ColumnCount > 0 && ColumnCount <= 1 << 20, nameof(ColumnCount), "must be in [1, 2^20]");
        Require(PotentialPct > 0 && PotentialPct <= 1, nameof(PotentialPct), "must be in (0, 1]");
        Require(GlobalInhibition, nameof(GlobalInhibition), "must be true: only global inhibition is implemented");
        Require(NumActiveColumnsPerInhArea > 0, nameof(NumActiveColumnsPerInhArea), "must be positive");
        Require(StimulusThreshold >= 0 && float.IsFinite(StimulusThreshold), nameof(StimulusThreshold), "must be finite and non-negative");
        Require(SynPermActiveInc > 0 && SynPermActiveInc <= 1, nameof(SynPermActiveInc), "must be in (0, 1]");
        Require(SynPermInactiveDec >= 0 && SynPermInactiveDec <= 1, nameof(SynPermInactiveDec), "must be in [0, 1]");
        Require(SynPermConnected > 0 && SynPermConnected < 1, nameof(SynPermConnected), "must be in (0, 1)");
        Require(MinPctOverlapDutyCycle >= 0 && MinPctOverlapDutyCycle <= 1, nameof(MinPctOverlapDutyCycle), "must be in [0, 1]");
        Require(DutyCyclePeriod > 0, nameof(DutyCyclePeriod), "must be positive");
        Require(BoostStrength == 0, nameof(BoostStrength), "must be 0: boosting is not implemented (NAB and htmengine run without it)");
        Require(Seed != 0, nameof(Seed), "must be non-zero (0 means a clock seed in NuPIC)");
    }

    private static void Require(bool condition, string name, string rule)
    {
        if (!condition)
        {
            throw new ArgumentException($"SpatialPoolerParameters.{name} {rule}.", name);
        }
    }
}
