using System.Globalization;
using System.Text.Json;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Tests.Unit.Nab;

/// <summary>Reproduces NAB's own outputs on the tiny synthetic corpus (vectors/tiny/expected).</summary>
public class NabTinyVectorTests
{
    private static readonly string[] s_detectors = ["null", "toy", "toyrand"];
    private static readonly Lazy<NabCorpus> s_corpus = new(() =>
        NabCorpus.Load(Path.Combine(NabShared.Tiny, "data"), Path.Combine(NabShared.Tiny, "labels", "combined_windows.json")));

    private static readonly Lazy<JsonDocument> s_sweeps = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(NabShared.Tiny, "expected", "sweeps.json"))));

    private static NabCorpus Corpus => s_corpus.Value;

    private static JsonElement Sweeps => s_sweeps.Value.RootElement;

    public static TheoryData<string, string> DetectorProfiles()
    {
        var data = new TheoryData<string, string>();
        foreach (string d in s_detectors)
        {
            foreach (NabProfile p in NabProfile.Defaults)
            {
                data.Add(d, p.Name);
            }
        }

        return data;
    }

    private static double[][] Results(string detector) =>
        Corpus.ReadResults(Path.Combine(NabShared.Tiny, "results", detector), detector);

    private static NabProfile Profile(string name) => NabProfile.Load(Path.Combine(NabShared.Root, "config", "profiles.json")).Single(p => p.Name == name);

    [Fact]
    public void Scaled_sigmoid_matches_nab_bit_for_bit()
    {
        foreach (JsonElement pair in Sweeps.GetProperty("scaledSigmoid").EnumerateArray())
        {
            double y = pair[0].GetDouble();
            Assert.Equal(pair[1].GetDouble(), NabScoring.ScaledSigmoid(y));
        }
    }

    [Fact]
    public void Corpus_is_sorted_and_has_the_expected_geometry()
    {
        Assert.Equal(
            ["toyA/no_window.csv", "toyA/single_window.csv", "toyA/two_windows.csv", "toyB/adjacent_windows.csv", "toyB/probation_window.csv"],
            Corpus.Files.Select(f => f.Name));
        NabLabeledFile single = Corpus.Files[1];
        Assert.Equal(40, single.RowCount);
        Assert.Equal(6, single.ProbationaryLength);
        Assert.Equal([new NabWindow(20, 27)], single.Windows);
    }

    [Theory]
    [MemberData(nameof(DetectorProfiles))]
    public void Per_row_scores_weights_and_windows_are_exact(string detector, string profileName)
    {
        NabProfile profile = Profile(profileName);
        double[][] results = Results(detector);
        JsonElement perRow = Sweeps.GetProperty(detector).GetProperty(profileName).GetProperty("per_row");
        for (int f = 0; f < Corpus.Files.Count; f++)
        {
            NabLabeledFile file = Corpus.Files[f];
            JsonElement[] rows = [.. perRow.GetProperty(file.Name).EnumerateArray()];
            Assert.Equal(file.RowCount, rows.Length);
            double[] weights = NabScoring.RowWeights(file, profile);
            int[] windows = NabScoring.RowWindows(file);
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.Equal(rows[i][0].GetDouble(), results[f][i]);
                Assert.True(rows[i][1].GetDouble() == weights[i], $"{detector} {profileName} {file.Name} row {i}: expected weight {rows[i][1].GetDouble():R}, got {weights[i]:R}");
                string expectedLabel = rows[i][2].ValueKind == JsonValueKind.Null ? "null" : rows[i][2].GetString()!;
                string label = windows[i] switch
                {
                    NabScoring.Probationary => "probationary",
                    NabScoring.Outside => "null",
                    int k => $"{file.Name}|{k}",
                };
                Assert.Equal(expectedLabel, label);
            }
        }
    }

    [Theory]
    [MemberData(nameof(DetectorProfiles))]
    public void Per_file_sweeps_are_exact(string detector, string profileName)
    {
        NabScorer scorer = Corpus.CreateScorer();
        double[][] results = Results(detector);
        JsonElement sweeps = Sweeps.GetProperty(detector).GetProperty(profileName).GetProperty("per_file_sweep");
        for (int f = 0; f < Corpus.Files.Count; f++)
        {
            AssertSweep(sweeps.GetProperty(Corpus.Files[f].Name), scorer.FileSweep(f, results[f], profileName), $"{detector} {profileName} {Corpus.Files[f].Name}");
            AssertSweep(
                sweeps.GetProperty(Corpus.Files[f].Name),
                NabScoring.Sweep(Corpus.Files[f], results[f], Profile(profileName)),
                $"{detector} {profileName} {Corpus.Files[f].Name} (single-file API)");
        }
    }

    [Theory]
    [MemberData(nameof(DetectorProfiles))]
    public void Corpus_sweep_and_optimum_are_exact_in_sorted_file_order(string detector, string profileName)
    {
        NabScorer scorer = Corpus.CreateScorer();
        double[][] results = Results(detector);
        JsonElement expected = Sweeps.GetProperty(detector).GetProperty(profileName);
        AssertSweep(expected.GetProperty("corpus_sweep"), scorer.CorpusSweep(results, profileName), $"{detector} {profileName} corpus");
        AssertEntry(expected.GetProperty("best"), scorer.Optimize(results, profileName), $"{detector} {profileName} best");
    }

    [Theory]
    [MemberData(nameof(DetectorProfiles))]
    public void Optimised_thresholds_and_score_tables_match_nab(string detector, string profileName)
    {
        using JsonDocument thresholds = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(NabShared.Tiny, "expected", "thresholds.json")));
        double expectedThreshold = thresholds.RootElement.GetProperty(detector).GetProperty(profileName).GetProperty("threshold").GetDouble();
        NabDetectorScore score = Corpus.CreateScorer().Score(detector, Results(detector));
        NabProfileScore result = score[profileName];
        Assert.Equal(expectedThreshold, result.Threshold);

        string[] lines = File.ReadAllLines(Path.Combine(NabShared.Tiny, "expected", "scores", $"{detector}_{profileName}_scores.csv"));
        Assert.Equal("Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count", lines[0]);
        int fileRows = 0;
        foreach (string line in lines.Skip(1))
        {
            string[] c = line.Split(',');
            if (c[0] == "Totals")
            {
                Assert.True(Math.Abs(double.Parse(c[4], CultureInfo.InvariantCulture) - result.RawScore) <= 1e-9, $"total {result.RawScore:R} vs {c[4]}");
                Assert.Equal(result.Files.Sum(x => x.TruePositives), int.Parse(c[5], CultureInfo.InvariantCulture));
                Assert.Equal(result.Files.Sum(x => x.Total), int.Parse(c[9], CultureInfo.InvariantCulture));
                continue;
            }

            fileRows++;
            NabFileScore file = result.Files.Single(x => x.File == c[2]);
            Assert.Equal(double.Parse(c[3], CultureInfo.InvariantCulture), file.Threshold);
            Assert.True(double.Parse(c[4], CultureInfo.InvariantCulture) == file.Score, $"{c[2]}: expected {c[4]}, got {file.Score:R}");
            Assert.Equal(
                [int.Parse(c[5], CultureInfo.InvariantCulture), int.Parse(c[6], CultureInfo.InvariantCulture), int.Parse(c[7], CultureInfo.InvariantCulture), int.Parse(c[8], CultureInfo.InvariantCulture), int.Parse(c[9], CultureInfo.InvariantCulture)],
                new[] { file.TruePositives, file.TrueNegatives, file.FalsePositives, file.FalseNegatives, file.Total });
        }

        Assert.Equal(5, fileRows);
    }

    [Fact]
    public void Normalised_scores_match_nab_final_results()
    {
        using JsonDocument final = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(NabShared.Tiny, "expected", "final_results.json")));
        NabScorer scorer = Corpus.CreateScorer(NabProfile.Load(Path.Combine(NabShared.Root, "config", "profiles.json")));
        foreach (string detector in s_detectors)
        {
            NabDetectorScore score = scorer.Score(detector, Results(detector));
            foreach (NabProfileScore p in score.Profiles)
            {
                double expected = final.RootElement.GetProperty(detector).GetProperty(p.Profile.Name).GetDouble();
                Assert.True(Math.Abs(expected - p.NormalizedScore) <= 1e-9, $"{detector} {p.Profile.Name}: expected {expected:R}, got {p.NormalizedScore:R}");
            }
        }

        // Null's reward_low_FN optimum on this tiny corpus is "flag everything" (pitfall 3).
        NabProfileScore nullFn = scorer.Score("null", Results("null"))[NabProfile.LowFnName];
        Assert.Equal(0.5, nullFn.NullThreshold);
        Assert.True(Math.Abs(nullFn.NullScore - -9.880658123154062) <= 1e-9);
        Assert.Equal(6.0, nullFn.PerfectScore);
    }

    private static void AssertSweep(JsonElement expected, IReadOnlyList<ThresholdScore> actual, string what)
    {
        JsonElement[] entries = [.. expected.EnumerateArray()];
        Assert.True(entries.Length == actual.Count, $"{what}: expected {entries.Length} sweep entries, got {actual.Count}");
        for (int k = 0; k < entries.Length; k++)
        {
            AssertEntry(entries[k], actual[k], $"{what} entry {k}");
        }
    }

    private static void AssertEntry(JsonElement e, ThresholdScore a, string what)
    {
        bool same = e[0].GetDouble() == a.Threshold && e[1].GetDouble() == a.Score;
        Assert.True(same, $"{what}: expected ({e[0].GetRawText()}, {e[1].GetRawText()}), got ({a.Threshold:R}, {a.Score:R})");
        if (e.GetArrayLength() == 7)
        {
            Assert.Equal(
                [e[2].GetInt32(), e[3].GetInt32(), e[4].GetInt32(), e[5].GetInt32(), e[6].GetInt32()],
                new[] { a.TruePositives, a.TrueNegatives, a.FalsePositives, a.FalseNegatives, a.Total });
        }
        else
        {
            Assert.Equal(e[2].GetInt32(), a.TruePositives);
        }
    }
}
