using System.Diagnostics;
using System.Text.Json;
using HtmEngine.Nab.Scoring;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Unit.Nab;

/// <summary>Reproduces NAB's scores of published detectors on the 40-file development subset.</summary>
public class NabDevScoreTests(ITestOutputHelper output)
{
    private static readonly Lazy<NabCorpus> s_corpus = new(() =>
        NabCorpus.Load(
            NabShared.Path_("data"),
            NabShared.Path_("labels", "combined_windows.json"),
            NabCorpus.ReadFileList(NabShared.Path_("dev-files.txt")),
            NabShared.Path_("dev-files.txt")));

    private static readonly Lazy<JsonDocument> s_expected = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(NabShared.Path_("expected-dev-scores.json"))));

    [Fact]
    public void Dev_subset_has_40_files_and_70_windows()
    {
        NabCorpus corpus = s_corpus.Value;
        Assert.Equal(40, corpus.Files.Count);
        Assert.Equal(70, corpus.CreateScorer().WindowCount);
        Assert.Equal(244_288, corpus.Files.Sum(f => f.RowCount));
    }

    [Theory]
    [InlineData("numenta")]
    [InlineData("null")]
    public void Optimised_scores_match_nab_dev_opt(string detector)
    {
        NabCorpus corpus = s_corpus.Value;
        var clock = Stopwatch.StartNew();
        double[][] results = corpus.ReadResults(NabShared.Path_("results", detector), detector);
        TimeSpan read = clock.Elapsed;
        NabDetectorScore score = corpus.CreateScorer(NabProfile.Load(NabShared.Path_("config", "profiles.json"))).Score(detector, results);
        output.WriteLine($"{detector}: read {read.TotalMilliseconds:F0} ms, scored (3 profiles, optimised, null baseline) in {(clock.Elapsed - read).TotalMilliseconds:F0} ms");
        output.WriteLine(score.SummaryLine);

        JsonElement expected = s_expected.Value.RootElement.GetProperty(detector).GetProperty("dev_opt");
        foreach (NabProfileScore p in score.Profiles)
        {
            JsonElement e = expected.GetProperty(p.Profile.Name);
            Assert.True(Math.Abs(e.GetProperty("threshold").GetDouble() - p.Threshold) <= 1e-12, $"{p.Profile.Name} threshold {p.Threshold:R}");
            Assert.True(Math.Abs(e.GetProperty("raw").GetDouble() - p.RawScore) <= 1e-6, $"{p.Profile.Name} raw {p.RawScore:R}");
            Assert.True(Math.Abs(e.GetProperty("normalized").GetDouble() - p.NormalizedScore) <= 1e-6, $"{p.Profile.Name} normalized {p.NormalizedScore:R}");
            Assert.Equal(70.0 * p.Profile.TpWeight, p.PerfectScore);
        }
    }

    [Fact]
    public void Scores_at_shipped_thresholds_match_nab_dev_shipped()
    {
        NabCorpus corpus = s_corpus.Value;
        JsonElement expected = s_expected.Value.RootElement.GetProperty("numenta").GetProperty("dev_shipped");
        var thresholds = NabProfile.Defaults.ToDictionary(p => p.Name, p => expected.GetProperty(p.Name).GetProperty("threshold").GetDouble());
        var nullThresholds = NabProfile.Defaults.ToDictionary(p => p.Name, _ => 1.1);
        NabDetectorScore score = corpus.CreateScorer().Score(
            "numenta", corpus.ReadResults(NabShared.Path_("results", "numenta"), "numenta"), thresholds, nullThresholds);
        foreach (NabProfileScore p in score.Profiles)
        {
            JsonElement e = expected.GetProperty(p.Profile.Name);
            Assert.True(Math.Abs(e.GetProperty("raw").GetDouble() - p.RawScore) <= 1e-6, $"{p.Profile.Name} raw {p.RawScore:R}");
            Assert.True(Math.Abs(e.GetProperty("normalized").GetDouble() - p.NormalizedScore) <= 1e-6, $"{p.Profile.Name} normalized {p.NormalizedScore:R}");
        }
    }

    [Fact]
    public void On_disk_null_results_give_the_synthesised_null_baseline()
    {
        NabCorpus corpus = s_corpus.Value;
        NabDetectorScore score = corpus.CreateScorer().Score("null", corpus.ReadResults(NabShared.Path_("results", "null"), "null"));
        foreach (NabProfileScore p in score.Profiles)
        {
            Assert.Equal(p.NullScore, p.RawScore);
            Assert.Equal(0.0, p.NormalizedScore);
            Assert.Equal(1.1, p.NullThreshold);
        }
    }
}
