using System.Globalization;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;
using HtmEngine.Nab.Scoring;
using HtmEngine.Tests.Unit.Nab;

namespace HtmEngine.Tests.Unit.Core.Models;

/// <summary>
/// The NAB detector reproduces NuPIC's published results row for row on files where every component (RDSE, SP,
/// backtracking TM, likelihood, spatial rule) follows NuPIC's exact code path: the strongest check that the
/// algorithms, the RNG call order and the float32 arithmetic are NuPIC's.
/// </summary>
public class NupicAgreementTests
{
    [Theory]
    [InlineData("realAWSCloudwatch", "ec2_cpu_utilization_825cc2.csv")]
    [InlineData("artificialNoAnomaly", "art_daily_perfect_square_wave.csv")]
    // These two exercise Cells4's position-shift quirk in adaptSegment (synapses freed by stale positions).
    [InlineData("realTraffic", "occupancy_t4013.csv")]
    [InlineData("realAdExchange", "exchange-3_cpm_results.csv")]
    public void Raw_and_final_scores_equal_nupics_published_results(string category, string file)
    {
        NabSeries series = NabCsv.ReadSeries(NabShared.Path_("data", category, file), file);
        string[] reference = File.ReadAllLines(NabShared.Path_("results", "numenta", category, "numenta_" + file));
        Assert.Equal(series.Length + 1, reference.Length);

        double min = series.Values.Min();
        double max = series.Values.Max();
        (min, max) = ModelParameters.PadObservedRange(min, max);
        var detector = new NabDetector(ModelParameters.Nab(min, max), NabAnomalyLikelihood.NabProbationaryPeriod(series.Length));
        for (int i = 0; i < series.Length; i++)
        {
            DetectorScore ours = detector.Step(series.Timestamps[i], series.Values[i]);
            string[] fields = reference[i + 1].Split(',');
            double score = double.Parse(fields[2], CultureInfo.InvariantCulture);
            double raw = double.Parse(fields[3], CultureInfo.InvariantCulture);
            // NuPIC's file prints 12 significant digits.
            Assert.True(Math.Abs(ours.RawScore - raw) <= 1e-11, $"{file} row {i}: raw {ours.RawScore} vs NuPIC {raw}");
            Assert.True(Math.Abs(ours.Score - score) <= 1e-11 * Math.Max(1, score), $"{file} row {i}: score {ours.Score} vs NuPIC {score}");
        }
    }
}
