using HtmEngine.Core.SpatialPooling;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Core.Models;

/// <summary>
/// Everything that defines one metric's model: the value encoder's resolution, the spatial pooler and the
/// temporal memory. Two named sets exist: <c>nab</c> (NuPIC 1.0's best single-metric anomaly parameters, the
/// default, htm-algorithm.md §1) and <c>htmengine-0.3.4</c> (the original htmengine's template, htmengine-spec §7).
/// </summary>
public sealed record ModelParameters
{
    /// <summary>Name of the NuPIC 1.0 / NAB parameter set.</summary>
    public const string NabSetName = "nab";

    /// <summary>Name of the original htmengine (nupic 0.3.4) parameter set.</summary>
    public const string HtmEngine034SetName = "htmengine-0.3.4";

    /// <summary>The names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> SetNames { get; } = [NabSetName, HtmEngine034SetName];

    /// <summary>Name of the parameter set these values came from.</summary>
    public required string SetName { get; init; }

    /// <summary>Lower end of the value range the resolution was derived from (after any padding).</summary>
    public required double MinValue { get; init; }

    /// <summary>Upper end of the value range the resolution was derived from (after any padding).</summary>
    public required double MaxValue { get; init; }

    /// <summary>Value width of one RDSE bucket.</summary>
    public required double Resolution { get; init; }

    /// <summary>Seed of the value encoder (NuPIC: 42).</summary>
    public ulong EncoderSeed { get; init; } = 42;

    /// <summary>Spatial pooler parameters (its input width is set from the encoder).</summary>
    public required SpatialPoolerParameters SpatialPooler { get; init; }

    /// <summary>Which temporal memory runs.</summary>
    public TemporalMemoryKind TemporalMemory { get; init; } = TemporalMemoryKind.Backtracking;

    /// <summary>Parameters of the backtracking TM (used when <see cref="TemporalMemory"/> is Backtracking).</summary>
    public BacktrackingTmParameters Backtracking { get; init; } = new();

    /// <summary>Parameters of the TemporalMemory (used when <see cref="TemporalMemory"/> is TemporalMemory; NAB's numentaTM values).</summary>
    public TemporalMemoryParameters Tm { get; init; } = new();

    /// <summary>
    /// The range a model uses when the caller knows only the data's observed min and max: widened by 20 % of the
    /// range on each side (NAB's per-file rule and htmengine's inferred-range rule); equal ends become [min, min + 1].
    /// </summary>
    public static (double Min, double Max) PadObservedRange(double observedMin, double observedMax)
    {
        RequireFinite(observedMin, nameof(observedMin));
        RequireFinite(observedMax, nameof(observedMax));
        if (observedMax < observedMin)
        {
            throw new ArgumentException($"The observed maximum {observedMax} is below the minimum {observedMin}.", nameof(observedMax));
        }

        double padding = Math.Abs(observedMax - observedMin) * 0.2;
        double min = observedMin - padding;
        double max = observedMax + padding;
        if (min == max)
        {
            max = min + 1;
        }

        return (min, max);
    }

    /// <summary>
    /// NuPIC 1.0's parameters as NAB's numenta detector runs them, for a value range already padded by the caller
    /// (see <see cref="PadObservedRange"/>): resolution = max(0.001, (max − min) / 130).
    /// </summary>
    public static ModelParameters Nab(double min, double max, TemporalMemoryKind temporalMemory = TemporalMemoryKind.Backtracking)
    {
        (min, max) = CheckRange(min, max);
        return new ModelParameters
        {
            SetName = NabSetName,
            MinValue = min,
            MaxValue = max,
            Resolution = Math.Max(0.001, (max - min) / 130.0),
            SpatialPooler = SpatialPoolerParameters.Nab,
            TemporalMemory = temporalMemory,
        };
    }

    /// <summary>
    /// The original htmengine's template (nupic 0.3.4): resolution = max(minResolution, (max − min) / 114), spatial
    /// pooler connected permanence 0.1 and increment 0.0015; the backtracking TM values equal NuPIC 1.0's.
    /// </summary>
    public static ModelParameters HtmEngine034(double min, double max, double minResolution = 0.001, TemporalMemoryKind temporalMemory = TemporalMemoryKind.Backtracking)
    {
        (min, max) = CheckRange(min, max);
        RequireFinite(minResolution, nameof(minResolution));
        if (minResolution <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(minResolution), minResolution, "The minimum resolution must be positive.");
        }

        return new ModelParameters
        {
            SetName = HtmEngine034SetName,
            MinValue = min,
            MaxValue = max,
            Resolution = Math.Max(minResolution, (max - min) / 114.0),
            SpatialPooler = SpatialPoolerParameters.HtmEngine034,
            TemporalMemory = temporalMemory,
        };
    }

    /// <summary>Creates a named parameter set (see <see cref="SetNames"/>) for the range [min, max].</summary>
    /// <exception cref="ArgumentException">The name is not a known set.</exception>
    public static ModelParameters Create(string setName, double min, double max, TemporalMemoryKind temporalMemory = TemporalMemoryKind.Backtracking) => setName switch
    {
        NabSetName => Nab(min, max, temporalMemory),
        HtmEngine034SetName => HtmEngine034(min, max, temporalMemory: temporalMemory),
        _ => throw new ArgumentException($"Unknown parameter set '{setName}'; expected one of: {string.Join(", ", SetNames)}.", nameof(setName)),
    };

    private static (double Min, double Max) CheckRange(double min, double max)
    {
        RequireFinite(min, nameof(min));
        RequireFinite(max, nameof(max));
        if (max < min)
        {
            throw new ArgumentException($"The maximum {max} is below the minimum {min}.", nameof(max));
        }

        // NuPIC's fix-up: an empty range becomes one unit wide.
        return min == max ? (min, min + 1) : (min, max);
    }

    private static void RequireFinite(double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be a finite number.");
        }
    }
}
