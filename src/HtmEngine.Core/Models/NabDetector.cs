using HtmEngine.Core.Anomaly;

namespace HtmEngine.Core.Models;

/// <summary>
/// NAB's "numenta" detector around an <see cref="HtmModel"/>: raw score → NuPIC's streaming anomaly likelihood →
/// log score, overridden with 1.0 when the value leaves the range seen so far by more than 5 % (htm-algorithm.md §1.2).
/// </summary>
public sealed class NabDetector
{
    private readonly HtmModel _model;
    private readonly SpatialAnomalyDetector _spatial = new();
    private readonly NabAnomalyLikelihood _likelihood;

    /// <summary>Builds the detector for a series of <paramref name="probationaryPeriod"/> probationary records.</summary>
    public NabDetector(ModelParameters parameters, int probationaryPeriod)
    {
        _model = new HtmModel(parameters);
        (int learning, int estimation) = NabAnomalyLikelihood.ForProbation(probationaryPeriod);
        _likelihood = new NabAnomalyLikelihood(learning, estimation);
    }

    /// <summary>The model inside.</summary>
    public HtmModel Model => _model;

    /// <summary>Scores one record: the final NAB score in [0, 1] and the raw TM anomaly.</summary>
    public DetectorScore Step(DateTime timestamp, double value)
    {
        double raw = _model.Step(timestamp, value);
        double likelihood = _likelihood.AnomalyProbability(value, raw, timestamp.Ticks);
        double score = NabAnomalyLikelihood.LogScore(likelihood);
        if (_spatial.Update(value))
        {
            score = 1.0;
        }

        return new DetectorScore(score, raw, likelihood);
    }
}

/// <summary>One record's scores.</summary>
/// <param name="Score">The final anomaly score reported for the record.</param>
/// <param name="RawScore">The raw temporal-memory anomaly.</param>
/// <param name="Likelihood">The anomaly likelihood before the log transform.</param>
public readonly record struct DetectorScore(double Score, double RawScore, double Likelihood);
