using System.Globalization;

namespace HtmEngine.Nab.Scoring;

/// <summary>One row of NAB's per-file score table (<c>&lt;det&gt;_&lt;profile&gt;_scores.csv</c>).</summary>
/// <param name="File">The data file's relative path.</param>
/// <param name="Threshold">The threshold applied.</param>
/// <param name="Score">The file's raw weighted score.</param>
/// <param name="TruePositives">Detected rows inside windows.</param>
/// <param name="TrueNegatives">Undetected rows outside windows.</param>
/// <param name="FalsePositives">Detected rows outside windows.</param>
/// <param name="FalseNegatives">Undetected rows inside windows.</param>
/// <param name="Total">Scorable rows.</param>
public sealed record NabFileScore(
    string File, double Threshold, double Score, int TruePositives, int TrueNegatives, int FalsePositives, int FalseNegatives, int Total);

/// <summary>A detector's result on one profile.</summary>
/// <param name="Profile">The profile.</param>
/// <param name="Threshold">The threshold used (optimised or given).</param>
/// <param name="OptimizerScore">The optimiser's corpus-sweep score at that threshold, when it was optimised (may differ from <paramref name="RawScore"/> in the last bits).</param>
/// <param name="RawScore">The sum of the per-file scores (NAB's <c>Totals</c> row).</param>
/// <param name="NullThreshold">The null detector's threshold.</param>
/// <param name="NullScore">The null detector's raw score: the normalisation baseline.</param>
/// <param name="PerfectScore">A_TP × number of windows.</param>
/// <param name="NormalizedScore"><c>100·(raw − null)/(perfect − null)</c>.</param>
/// <param name="Files">The per-file table, in scoring order.</param>
public sealed record NabProfileScore(
    NabProfile Profile,
    double Threshold,
    double? OptimizerScore,
    double RawScore,
    double NullThreshold,
    double NullScore,
    double PerfectScore,
    double NormalizedScore,
    IReadOnlyList<NabFileScore> Files);

/// <summary>A detector's NAB result on every profile.</summary>
/// <param name="Detector">The detector's name.</param>
/// <param name="Profiles">One result per profile, in the scorer's profile order.</param>
public sealed record NabDetectorScore(string Detector, IReadOnlyList<NabProfileScore> Profiles)
{
    /// <summary>The result of the profile with the given name.</summary>
    /// <param name="profileName">E.g. <see cref="NabProfile.StandardName"/>.</param>
    /// <returns>The profile's result.</returns>
    public NabProfileScore this[string profileName] =>
        Profiles.FirstOrDefault(p => p.Profile.Name == profileName) ?? throw new KeyNotFoundException($"no profile '{profileName}'");

    /// <summary>The normalised standard score.</summary>
    public double Standard => this[NabProfile.StandardName].NormalizedScore;

    /// <summary>The normalised reward_low_FP_rate score.</summary>
    public double LowFp => this[NabProfile.LowFpName].NormalizedScore;

    /// <summary>The normalised reward_low_FN_rate score.</summary>
    public double LowFn => this[NabProfile.LowFnName].NormalizedScore;

    /// <summary>The summary line <c>standard=&lt;x&gt; low_fp=&lt;y&gt; low_fn=&lt;z&gt;</c> (shortest round-trip numbers).</summary>
    public string SummaryLine => string.Create(CultureInfo.InvariantCulture, $"standard={Standard:R} low_fp={LowFp:R} low_fn={LowFn:R}");
}
