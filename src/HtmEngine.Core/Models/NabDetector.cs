using HtmEngine.Core.Anomaly;

namespace HtmEngine.Core.Models;

/// <summary>
/// NAB's "numenta" detector around an <see cref="HtmModel"/>: raw score → NuPIC's streaming anomaly likelihood →
/// log score, overridden with 1.0 when the value leaves the range seen so far by more than 5 % (htm-algorithm.md §1.2).
/// <see cref="NabDetectorOptions"/> add what NuPIC did not have (a seed ensemble, an alert refractory period);
/// with <see cref="NabDetectorOptions.NuPic"/> the detector is NuPIC's exactly.
/// </summary>
public sealed class NabDetector
{
    private readonly HtmModel[] _models;
    private readonly SpatialAnomalyDetector _spatial = new();
    private readonly NabAnomalyLikelihood _likelihood;
    private readonly int _refractory;
    private long _step;

    // Index of the last record reported as an alert; far in the past so the first alert is never demoted.
    private long _lastAlert = long.MinValue / 2;

    /// <summary>Builds NuPIC's detector for a series of <paramref name="probationaryPeriod"/> probationary records.</summary>
    public NabDetector(ModelParameters parameters, int probationaryPeriod)
        : this(parameters, probationaryPeriod, NabDetectorOptions.NuPic)
    {
    }

    /// <summary>Builds the detector with the given options for a series of <paramref name="probationaryPeriod"/> probationary records.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public NabDetector(ModelParameters parameters, int probationaryPeriod, NabDetectorOptions options)
        : this(probationaryPeriod, options, parameters ?? throw new ArgumentNullException(nameof(parameters)))
    {
    }

    private NabDetector(int probationaryPeriod, NabDetectorOptions options, ModelParameters? parameters)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _models = new HtmModel[parameters is null ? 0 : options.EnsembleSize];
        for (int k = 0; k < _models.Length; k++)
        {
            _models[k] = new HtmModel(Reseeded(parameters!, (ulong)(options.SeedOffset + k)));
        }

        (int learning, int estimation) = NabAnomalyLikelihood.ForProbation(probationaryPeriod);
        _likelihood = new NabAnomalyLikelihood(learning, estimation, averagingWindow: options.AveragingWindow, belowMeanTail: options.BelowMeanTail);
        _refractory = options.RefractoryRecords;
    }

    /// <summary>The options the detector runs with.</summary>
    public NabDetectorOptions Options { get; }

    /// <summary>The (first) model inside.</summary>
    /// <exception cref="InvalidOperationException">The detector was built by <see cref="WithoutModel"/>.</exception>
    public HtmModel Model => _models.Length > 0 ? _models[0] : throw NoModel();

    /// <summary>
    /// A detector without a model, for <see cref="StepRaw"/> only (replaying saved raw scores costs no model
    /// construction); <see cref="Options"/>.EnsembleSize is irrelevant then.
    /// </summary>
    public static NabDetector WithoutModel(int probationaryPeriod, NabDetectorOptions options) => new(probationaryPeriod, options, null);

    /// <summary>
    /// The parameters of ensemble member <paramref name="member"/>: the same model with every seed (encoder, spatial
    /// pooler, both TMs) moved by <paramref name="member"/>, so members differ only in their random initialisation.
    /// </summary>
    public static ModelParameters Reseeded(ModelParameters parameters, ulong member)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return member == 0 ? parameters : parameters with
        {
            EncoderSeed = parameters.EncoderSeed + member,
            SpatialPooler = parameters.SpatialPooler with { Seed = parameters.SpatialPooler.Seed + member },
            Backtracking = parameters.Backtracking with { Seed = parameters.Backtracking.Seed + member },
            Tm = parameters.Tm with { Seed = parameters.Tm.Seed + member },
        };
    }

    /// <summary>Scores one record: the final NAB score in [0, 1] and the raw TM anomaly (the ensemble's mean).</summary>
    /// <exception cref="InvalidOperationException">The detector was built by <see cref="WithoutModel"/>.</exception>
    public DetectorScore Step(DateTime timestamp, double value)
    {
        if (_models.Length == 0)
        {
            throw NoModel();
        }

        double raw = _models[0].Step(timestamp, value);
        if (_models.Length > 1)
        {
            for (int k = 1; k < _models.Length; k++)
            {
                raw += _models[k].Step(timestamp, value);
            }

            // Kept a float32 value like a single model's score, so a raw score printed with 9+ digits replays exactly.
            raw = (float)(raw / _models.Length);
        }

        return StepRaw(timestamp, value, raw);
    }

    /// <summary>
    /// Scores one record whose raw anomaly is already known (replaying a model's saved raw scores): everything
    /// <see cref="Step"/> does after the model. Do not mix with <see cref="Step"/> on one detector.
    /// </summary>
    public DetectorScore StepRaw(DateTime timestamp, double value, double rawScore)
    {
        double likelihood = _likelihood.AnomalyProbability(value, rawScore, timestamp.Ticks);
        double score = NabAnomalyLikelihood.LogScore(likelihood);
        if (_spatial.Update(value))
        {
            score = 1.0;
        }

        if (_refractory > 0 && score >= NabDetectorOptions.RedLogScore)
        {
            // One alert per event: NuPIC's filter already demotes a red right after a red; this widens that to any
            // alert within the refractory period of the last reported one (an operator is already looking).
            if (_step - _lastAlert <= _refractory)
            {
                score = Math.Min(score, NabDetectorOptions.YellowLogScore);
            }
            else
            {
                _lastAlert = _step;
            }
        }

        _step++;
        return new DetectorScore(score, rawScore, likelihood);
    }

    private static InvalidOperationException NoModel() => new("This detector was built without a model; it can only replay raw scores (StepRaw).");
}

/// <summary>One record's scores.</summary>
/// <param name="Score">The final anomaly score reported for the record.</param>
/// <param name="RawScore">The raw temporal-memory anomaly.</param>
/// <param name="Likelihood">The anomaly likelihood before the log transform.</param>
public readonly record struct DetectorScore(double Score, double RawScore, double Likelihood);
