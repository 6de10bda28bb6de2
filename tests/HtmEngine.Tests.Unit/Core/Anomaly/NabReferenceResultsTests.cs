using System.Globalization;
using HtmEngine.Core.Anomaly;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Unit.Core.Anomaly;

/// <summary>
/// Replays NuPIC's own published NAB results (value and raw score per row) through the spatial tweak, the streaming
/// likelihood and the log score, and compares with the published final score, rounded to the 12 significant digits
/// the files print. Every row of the 40 development files must match.
/// </summary>
public class NabReferenceResultsTests
{
    private readonly ITestOutputHelper _output;

    public NabReferenceResultsTests(ITestOutputHelper output) => _output = output;

    internal static string? FindSharedNab()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "nab", "results", "numenta");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    internal static (double[] Values, double[] Raw, double[] Final) ReadResults(string path)
    {
        var values = new List<double>();
        var raw = new List<double>();
        var final = new List<double>();
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            string[] f = line.Split(',');
            values.Add(double.Parse(f[1], CultureInfo.InvariantCulture));
            final.Add(double.Parse(f[2], CultureInfo.InvariantCulture));
            raw.Add(double.Parse(f[3], CultureInfo.InvariantCulture));
        }

        return (values.ToArray(), raw.ToArray(), final.ToArray());
    }

    [Fact]
    public void Published_final_scores_are_reproduced_from_published_raw_scores()
    {
        string? root = FindSharedNab();
        Assert.True(root is not null, "shared/nab/results/numenta not found above the test directory");
        int totalRows = 0;
        int totalMatches = 0;
        foreach (string file in Directory.EnumerateFiles(root!, "*.csv", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            (double[] values, double[] raw, double[] final) = ReadResults(file);
            int p = NabAnomalyLikelihood.NabProbationaryPeriod(values.Length);
            (int learning, int estimation) = NabAnomalyLikelihood.ForProbation(p);
            var likelihood = new NabAnomalyLikelihood(learning, estimation);
            var spatial = new SpatialAnomalyDetector();
            int matches = 0;
            int firstMismatch = -1;
            for (int i = 0; i < values.Length; i++)
            {
                bool isSpatial = spatial.Update(values[i]);
                // NuPIC's TM region hands the raw score on as float32; the likelihood sees it widened back.
                double l = likelihood.AnomalyProbability(values[i], (float)raw[i], i);
                double score = isSpatial ? 1.0 : NabAnomalyLikelihood.LogScore(l);
                // The files print 12 significant digits (Python 2 str()): ours, rounded the same way, must equal them.
                if (double.Parse(score.ToString("G12", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) == final[i])
                {
                    matches++;
                }
                else if (firstMismatch < 0)
                {
                    firstMismatch = i;
                    _output.WriteLine($"  first mismatch row {i}: ours {score:R} published {final[i]:R} (L {l:R})");
                }
            }

            _output.WriteLine($"{Path.GetFileName(file)}: {matches}/{values.Length} rows match (P = {p})");
            totalRows += values.Length;
            totalMatches += matches;
        }

        _output.WriteLine($"TOTAL {totalMatches}/{totalRows} = {(double)totalMatches / totalRows:P4}");
        Assert.Equal(totalRows, totalMatches);
    }
}
