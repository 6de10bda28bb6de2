using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Tests.Property.Nab;

/// <summary>A generated labelled corpus with one detector's scores per file.</summary>
public sealed record NabCase(NabLabeledFile[] Files, double[][] Scores)
{
    public override string ToString() => string.Join(
        "; ",
        Files.Select((f, k) => $"{f.Name} n={f.RowCount} P={f.ProbationaryLength} windows=[{string.Join(",", f.Windows.Select(w => $"{w.Start}..{w.End}"))}] scores=[{string.Join(",", Scores[k])}]"));
}

public static class NabArbitraries
{
    // Few distinct values, so that ties (within and across windows) are common.
    private static readonly double[] s_levels = [0.0, 0.1, 0.25, 0.5, 0.5, 0.7, 0.9, 0.95, 1.0];

    private static Gen<NabLabeledFile> File(int index) =>
        from n in Gen.Choose(12, 300)
        from spans in Gen.ListOf(Gen.Zip(Gen.Choose(0, 40), Gen.Choose(2, 40)), 4)
        select Place(index, n, spans);

    private static NabLabeledFile Place(int index, int n, IEnumerable<(int Gap, int Width)> spans)
    {
        var windows = new List<NabWindow>();
        int next = NabScoring.ProbationaryLength(n);
        foreach (var (gap, width) in spans)
        {
            int start = next + gap;
            int end = start + width - 1;
            if (end >= n)
            {
                break;
            }

            windows.Add(new NabWindow(start, end));
            next = end + 1;
        }

        return new NabLabeledFile($"cat/file{index}.csv", n, windows);
    }

    private static Gen<NabCase> Case =>
        from count in Gen.Choose(1, 4)
        from files in Gen.CollectToArray(Enumerable.Range(0, count), File)
        from scores in Gen.CollectToArray(files, f => Gen.ArrayOf(Gen.Elements(s_levels), f.RowCount))
        select new NabCase(files, scores);

    public static Arbitrary<NabCase> Cases() => Arb.From(Case);
}

public class NabScorerProperties
{
    [Property(Arbitrary = new[] { typeof(NabArbitraries) }, MaxTest = 300)]
    public bool Perfect_detector_scores_100_and_null_scores_0(NabCase c)
    {
        var scorer = new NabScorer(c.Files);
        if (scorer.WindowCount == 0)
        {
            return true;
        }

        double[][] perfect = [.. c.Files.Select(f =>
        {
            double[] s = new double[f.RowCount];
            foreach (NabWindow w in f.Windows)
            {
                s[w.Start] = 1.0;
            }

            return s;
        })];
        double[][] nulls = [.. c.Files.Select(f => Enumerable.Repeat(0.5, f.RowCount).ToArray())];
        NabDetectorScore p = scorer.Score("perfect", perfect);
        NabDetectorScore n = scorer.Score("null", nulls);
        return p.Profiles.All(x => Math.Abs(x.NormalizedScore - 100.0) <= 1e-9 && x.RawScore == x.PerfectScore)
            && n.Profiles.All(x => x.NormalizedScore == 0.0);
    }

    [Property(Arbitrary = new[] { typeof(NabArbitraries) }, MaxTest = 300)]
    public void Sweep_is_ordered_and_counts_grow_as_the_threshold_falls(NabCase c)
    {
        var scorer = new NabScorer(c.Files);
        double[][] scores = c.Scores;
        foreach (NabProfile profile in NabProfile.Defaults)
        {
            IReadOnlyList<ThresholdScore> sweep = scorer.CorpusSweep(scores, profile.Name);
            Assert.Equal(1.1, sweep[0].Threshold);
            Assert.Equal(0, sweep[0].TruePositives + sweep[0].FalsePositives);
            for (int k = 1; k < sweep.Count; k++)
            {
                Assert.True(sweep[k].Threshold < sweep[k - 1].Threshold);
                Assert.True(sweep[k].TruePositives >= sweep[k - 1].TruePositives);
                Assert.True(sweep[k].FalsePositives >= sweep[k - 1].FalsePositives);
                Assert.True(sweep[k].TruePositives + sweep[k].FalsePositives > sweep[k - 1].TruePositives + sweep[k - 1].FalsePositives);
                Assert.Equal(scorer.ScorableRowCount, sweep[k].Total);
            }

            ThresholdScore best = scorer.Optimize(scores, profile.Name);
            Assert.Equal(sweep.Max(e => e.Score), best.Score);
            Assert.Equal(sweep.First(e => e.Score == best.Score).Threshold, best.Threshold);
        }
    }

    [Property(Arbitrary = new[] { typeof(NabArbitraries) }, MaxTest = 300)]
    public void Score_at_a_threshold_equals_direct_evaluation(NabCase c, byte thresholdPick)
    {
        double threshold = (thresholdPick % 23) / 21.0; // 0 … 1.0476, on and between score levels
        var scorer = new NabScorer(c.Files);
        foreach (NabProfile profile in NabProfile.Defaults)
        {
            for (int f = 0; f < c.Files.Length; f++)
            {
                ThresholdScore swept = scorer.ScoreFileAt(f, c.Scores[f], profile.Name, threshold);
                var (score, tp, fp, fn, tn) = Direct(c.Files[f], c.Scores[f], profile, threshold);
                Assert.True(Math.Abs(swept.Score - score) <= 1e-9, $"{profile.Name} file {f} T={threshold}: swept {swept.Score:R}, direct {score:R}");
                Assert.Equal((tp, fp, fn, tn), (swept.TruePositives, swept.FalsePositives, swept.FalseNegatives, swept.TrueNegatives));
            }
        }
    }

    /// <summary>The scoring rule of NAB stated directly: FP rows add their weight, each window its best detection or −A_FN.</summary>
    private static (double Score, int Tp, int Fp, int Fn, int Tn) Direct(NabLabeledFile file, double[] scores, NabProfile profile, double threshold)
    {
        double[] weights = NabScoring.RowWeights(file, profile);
        int[] labels = NabScoring.RowWindows(file);
        double total = 0;
        int tp = 0, fp = 0, fn = 0, tn = 0;
        var best = new Dictionary<int, double>();
        for (int i = 0; i < file.RowCount; i++)
        {
            int label = labels[i];
            if (label == NabScoring.Probationary)
            {
                continue;
            }

            bool detected = scores[i] >= threshold;
            if (label == NabScoring.Outside)
            {
                if (detected)
                {
                    fp++;
                    total += weights[i];
                }
                else
                {
                    tn++;
                }

                continue;
            }

            if (!best.ContainsKey(label))
            {
                best[label] = -profile.FnWeight;
            }

            if (detected)
            {
                tp++;
                best[label] = Math.Max(best[label], weights[i]);
            }
            else
            {
                fn++;
            }
        }

        return (total + best.Values.Sum(), tp, fp, fn, tn);
    }
}
