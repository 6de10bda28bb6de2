using System.Globalization;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Tests.Unit.Nab;

public sealed class NabReaderWriterTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "nabrw-" + Guid.NewGuid().ToString("N"));

    public NabReaderWriterTests() => Directory.CreateDirectory(_temp);

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [InlineData("2014-04-10 07:15:00", 2014, 4, 10, 7, 15, 0, 0)]
    [InlineData("2014-04-10 07:15:00.000000", 2014, 4, 10, 7, 15, 0, 0)]
    [InlineData("2020-02-29T23:59:59.5", 2020, 2, 29, 23, 59, 59, 500)]
    public void Timestamps_parse(string text, int y, int mo, int d, int h, int mi, int s, int ms)
    {
        Assert.True(NabTimestamp.TryParse(text, out DateTime value));
        Assert.Equal(new DateTime(y, mo, d, h, mi, s, ms), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("2014-04-10")]
    [InlineData("2014-13-10 07:15:00")]
    [InlineData("2019-02-29 00:00:00")]
    [InlineData("2014-04-10 24:00:00")]
    [InlineData("2014-04-10 07:15:00.")]
    [InlineData("2014-04-10 07:15:00x")]
    [InlineData("2014/04/10 07:15:00")]
    public void Bad_timestamps_are_rejected(string text) => Assert.False(NabTimestamp.TryParse(text, out _));

    [Fact]
    public void Profiles_file_reads_nab_weights()
    {
        IReadOnlyList<NabProfile> profiles = NabProfile.Load(NabShared.Path_("config", "profiles.json"));
        Assert.Equal(NabProfile.Defaults, profiles);
    }

    [Fact]
    public void Profiles_file_without_a_required_profile_is_a_format_error()
    {
        string path = Path.Combine(_temp, "profiles.json");
        File.WriteAllText(path, """{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}}}""");
        var ex = Assert.Throws<NabFormatException>(() => NabProfile.Load(path));
        Assert.Contains("reward_low_FP_rate", ex.Message, StringComparison.Ordinal);
        Assert.Equal(path, ex.FilePath);
    }

    [Fact]
    public void Malformed_labels_json_names_the_line()
    {
        string path = Path.Combine(_temp, "labels.json");
        File.WriteAllText(path, "{\n  \"a/b.csv\": [\n    [\"2014-01-01 00:00:00\", \n  ]\n}\n");
        var ex = Assert.Throws<NabFormatException>(() => NabLabels.Load(path));
        Assert.Equal(path, ex.FilePath);
        Assert.NotNull(ex.LineNumber);
    }

    [Fact]
    public void Non_finite_score_is_rejected_with_its_line()
    {
        string path = Path.Combine(_temp, "r.csv");
        File.WriteAllText(path, "timestamp,value,anomaly_score\n2014-01-01 00:00:00,1,0.5\n2014-01-01 00:05:00,1,NaN\n");
        var ex = Assert.Throws<NabFormatException>(() => NabCsv.ReadAnomalyScores(path));
        Assert.Equal(3, ex.LineNumber);
    }

    [Fact]
    public void Result_without_anomaly_score_column_is_a_format_error()
    {
        string path = Path.Combine(_temp, "r.csv");
        File.WriteAllText(path, "timestamp,value,score\n2014-01-01 00:00:00,1,0.5\n");
        var ex = Assert.Throws<NabFormatException>(() => NabCsv.ReadAnomalyScores(path));
        Assert.Equal(1, ex.LineNumber);
        Assert.Contains("anomaly_score", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Written_results_read_back_and_match_the_published_file()
    {
        NabCorpus corpus = NabCorpus.Load(
            NabShared.Path_("data"), NabShared.Path_("labels", "combined_windows.json"), ["realTweets/Twitter_volume_CRM.csv"]);
        NabLabeledFile file = corpus.Files[0];
        string published = NabCorpus.ResultPath(NabShared.Path_("results", "numenta"), "numenta", file.Name);
        double[] scores = NabCsv.ReadAnomalyScores(published, file.RowCount);
        string path = NabCorpus.ResultPath(Path.Combine(_temp, "numenta"), "numenta", file.Name);
        NabResultWriter.WriteFile(path, file, scores, scores);

        Assert.Equal(scores, NabCsv.ReadAnomalyScores(path, file.RowCount));
        string[] ours = File.ReadAllLines(path);
        string[] theirs = File.ReadAllLines(published);
        Assert.Equal(theirs.Length, ours.Length);
        Assert.Equal(theirs[0], ours[0]);
        for (int i = 1; i < ours.Length; i++)
        {
            string[] a = ours[i].Split(',');
            string[] b = theirs[i].Split(',');
            Assert.Equal(b[0], a[0]);
            Assert.Equal(double.Parse(b[1], CultureInfo.InvariantCulture), double.Parse(a[1], CultureInfo.InvariantCulture));
            Assert.Equal(b[^1], a[^1]);
        }
    }

    [Fact]
    public void Rounding_for_results_keeps_12_significant_digits()
    {
        Assert.Equal(0.428656, NabResultWriter.RoundForResults(0.42865600000000004));
        Assert.Equal(0.123456789012, NabResultWriter.RoundForResults(0.1234567890123456));
    }

    [Fact]
    public void Labeled_file_rejects_inconsistent_windows()
    {
        Assert.Throws<ArgumentException>(() => new NabLabeledFile("x.csv", 10, [new NabWindow(5, 4)]));
        Assert.Throws<ArgumentException>(() => new NabLabeledFile("x.csv", 10, [new NabWindow(2, 4), new NabWindow(4, 6)]));
        Assert.Throws<ArgumentException>(() => new NabLabeledFile("x.csv", 10, [new NabWindow(2, 10)]));
        Assert.Throws<ArgumentException>(() => new NabLabeledFile("x.csv", 10, [new NabWindow(3, 3)]));
        _ = new NabLabeledFile("x.csv", 10, [new NabWindow(2, 4), new NabWindow(5, 6), new NabWindow(9, 9)]);
    }

    [Theory]
    [InlineData(4032, 604)]
    [InlineData(1624, 243)]
    [InlineData(5000, 750)]
    [InlineData(22695, 750)]
    [InlineData(40, 6)]
    public void Probationary_length_follows_nab(int rows, int expected) => Assert.Equal(expected, NabScoring.ProbationaryLength(rows));
}
