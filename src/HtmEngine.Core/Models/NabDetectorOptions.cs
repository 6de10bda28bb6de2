using HtmEngine.Core.Anomaly;

namespace HtmEngine.Core.Models;

/// <summary>
/// How a <see cref="NabDetector"/> turns a model's raw anomaly into its final score, beyond the model parameters:
/// the seed ensemble, the likelihood's settings and the alert refractory period. <see cref="NuPic"/> is NAB's
/// "numenta" detector exactly (bit-compatible with NuPIC's published results); <see cref="Default"/> is what
/// <c>htmengine nab</c> and <c>htmengine detect</c> run unless told otherwise.
/// </summary>
public sealed record NabDetectorOptions
{
    /// <summary>The final score of a likelihood at NuPIC's "red" level, L = 1 − 1e-5 (log score 0.5).</summary>
    public static readonly double RedLogScore = NabAnomalyLikelihood.LogScore(1.0 - NabAnomalyLikelihood.RedThreshold);

    /// <summary>The final score of a likelihood at NuPIC's "yellow" level, L = 1 − 1e-3 (log score 0.3).</summary>
    public static readonly double YellowLogScore = NabAnomalyLikelihood.LogScore(1.0 - NabAnomalyLikelihood.YellowThreshold);

    /// <summary>NAB's "numenta" detector as NuPIC ran it: one model with NuPIC's seeds, averaging window 10, no refractory period.</summary>
    public static NabDetectorOptions NuPic { get; } = new();

    /// <summary>
    /// The default detector: NuPIC's, plus a refractory period of one averaging window (10 records). The averaged
    /// raw score that makes an alert keeps the triggering raw scores for that many records, so a second alert inside
    /// it is mostly the same evidence counted again; NuPIC's own red→yellow filter meant to report a run of reds
    /// once but only looks one record back, so a red run broken by one non-red record alerts twice. Raw scores are
    /// unchanged (the mode compares with NuPIC's raw scores as <see cref="NuPic"/> does).
    /// </summary>
    public static NabDetectorOptions Default { get; } = NuPic with { RefractoryRecords = NuPic.AveragingWindow };

    /// <summary>
    /// Number of models run side by side, each with its own seeds (member 0 has the parameters' seeds, member k
    /// adds k to the encoder, spatial pooler and TM seeds); their raw scores are averaged before the likelihood.
    /// 1 = a single model (NuPIC). Costs this many times the work.
    /// </summary>
    public int EnsembleSize { get; init; } = 1;

    /// <summary>
    /// Added to every seed of the model (encoder, spatial pooler, TMs; see <see cref="NabDetector.Reseeded"/>), to
    /// measure how much a score owes to one random initialisation. 0 = NuPIC's seeds.
    /// </summary>
    public int SeedOffset { get; init; }

    /// <summary>
    /// Alert refractory period in records: a final score at or above <see cref="RedLogScore"/> (an alert) that comes
    /// within this many records after the last reported alert is reported as <see cref="YellowLogScore"/> instead.
    /// 0 = off (NuPIC: only a red right after a red is demoted, by the likelihood's own filter).
    /// </summary>
    public int RefractoryRecords { get; init; }

    /// <summary>Width of the likelihood's raw-score moving average (NuPIC: 10).</summary>
    public int AveragingWindow { get; init; } = 10;

    /// <summary>The likelihood's treatment of averaged scores below the mean (NuPIC 0.5.x, as published: complement).</summary>
    public BelowMeanTail BelowMeanTail { get; init; } = BelowMeanTail.Complement;

    /// <summary>Whether these options are NAB's "numenta" detector exactly (the raw scores and final scores can match NuPIC's).</summary>
    public bool IsNuPicCompatible => this == NuPic;

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(EnsembleSize, 1, nameof(EnsembleSize));
        ArgumentOutOfRangeException.ThrowIfNegative(RefractoryRecords, nameof(RefractoryRecords));
        ArgumentOutOfRangeException.ThrowIfNegative(SeedOffset, nameof(SeedOffset));
        ArgumentOutOfRangeException.ThrowIfLessThan(AveragingWindow, 1, nameof(AveragingWindow));
        if (BelowMeanTail is not BelowMeanTail.Complement and not BelowMeanTail.Mirror)
        {
            throw new ArgumentOutOfRangeException(nameof(BelowMeanTail), BelowMeanTail, "Unknown below-mean rule.");
        }
    }
}
