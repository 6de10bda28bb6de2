using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Core.Anomaly;

/// <summary>
/// NAB's spatial-anomaly tweak (htm-algorithm.md §1.8): a value more than 5 % of the seen range outside the range
/// of all values seen so far is an anomaly by itself (the detector then reports a final score of 1.0).
/// </summary>
public sealed class SpatialAnomalyDetector
{
    /// <summary>Fraction of the seen range allowed outside it (NAB's <c>spatialTolerance</c>).</summary>
    public const double Tolerance = 0.05;

    private bool _seenAny;
    private double _min;
    private double _max;

    /// <summary>Smallest value seen so far (NaN before the first).</summary>
    public double MinSeen => _seenAny ? _min : double.NaN;

    /// <summary>Largest value seen so far (NaN before the first).</summary>
    public double MaxSeen => _seenAny ? _max : double.NaN;

    /// <summary>
    /// Tests <paramref name="value"/> against the range seen before it, then widens the range with it. The test
    /// only applies once the range is non-empty (min ≠ max): tol = (max − min)·0.05, anomaly when
    /// value &gt; max + tol or value &lt; min − tol.
    /// </summary>
    /// <returns>Whether the value is a spatial anomaly.</returns>
    public bool Update(double value)
    {
        bool spatial = false;
        if (_seenAny && _min != _max)
        {
            double tolerance = (_max - _min) * Tolerance;
            double maxExpected = _max + tolerance;
            double minExpected = _min - tolerance;
            spatial = value > maxExpected || value < minExpected;
        }

        if (!_seenAny || value > _max)
        {
            _max = value;
        }

        if (!_seenAny || value < _min)
        {
            _min = value;
        }

        _seenAny = true;
        return spatial;
    }

    /// <summary>Writes the state.</summary>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteBoolean(_seenAny);
        writer.WriteDouble(_min);
        writer.WriteDouble(_max);
    }

    /// <summary>Reads a detector written by <see cref="Save"/>.</summary>
    public static SpatialAnomalyDetector Load(ref CheckpointReader reader)
    {
        var detector = new SpatialAnomalyDetector
        {
            _seenAny = reader.ReadBoolean(),
            _min = reader.ReadDouble(),
            _max = reader.ReadDouble(),
        };
        return detector;
    }
}
