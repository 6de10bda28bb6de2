using System.Globalization;
using System.Text.Json;
using HtmEngine.Nab;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Unit.Nab;

public sealed class NabScoreCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "nabscore-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_temp))
        {
            Directory.Delete(_temp, recursive: true);
        }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = NabScoreCommand.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string LastLine(string text) => text.TrimEnd().Split('\n')[^1].TrimEnd('\r');

    private static double[] Summary(string line)
    {
        string[] parts = line.Split(' ');
        Assert.Equal(3, parts.Length);
        Assert.StartsWith("standard=", parts[0], StringComparison.Ordinal);
        Assert.StartsWith("low_fp=", parts[1], StringComparison.Ordinal);
        Assert.StartsWith("low_fn=", parts[2], StringComparison.Ordinal);
        return [.. parts.Select(p => double.Parse(p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture))];
    }

    [Fact]
    public void Help_describes_every_option_and_succeeds()
    {
        var (code, stdout, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (string option in new[] { "Usage: htmengine nab score", "--results", "--detector", "--data", "--labels", "--files", "--profiles", "--thresholds optimize|FILE" })
        {
            Assert.Contains(option, stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--results", "r", "--detector", "d", "--data", "x")]
    [InlineData("--results", "r", "--detector", "d", "--data", "x", "--labels", "l", "--bogus", "1")]
    [InlineData("--results", "r", "--detector", "d", "--data", "x", "--labels")]
    [InlineData("--results", "r", "--results", "r", "--detector", "d", "--data", "x", "--labels", "l")]
    [InlineData("--results", "r", "--detector", "a/b", "--data", "x", "--labels", "l")]
    public void Usage_errors_exit_2(params string[] args)
    {
        var (code, _, stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains("error:", stderr, StringComparison.Ordinal);
        Assert.Contains("Usage:", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Scores_the_dev_subset_like_nab()
    {
        var (code, stdout, stderr) = Run(
            "score",
            "--results", NabShared.Path_("results"),
            "--detector", "numenta",
            "--data", NabShared.Path_("data"),
            "--labels", NabShared.Path_("labels", "combined_windows.json"),
            "--files", NabShared.Path_("dev-files.txt"),
            "--profiles", NabShared.Path_("config", "profiles.json"));
        output.WriteLine(stdout);
        Assert.True(code == 0, stderr);
        double[] s = Summary(LastLine(stdout));
        Assert.Equal(68.36738725702959, s[0], 1e-9);
        Assert.Equal(60.319654895040195, s[1], 1e-9);
        Assert.Equal(73.19730579040068, s[2], 1e-9);
        Assert.Contains("realKnownCause/machine_temperature_system_failure.csv", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Writes_the_per_file_table_of_every_profile_with_totals()
    {
        Directory.CreateDirectory(_temp);
        string table = Path.Combine(_temp, "numenta-scores.csv");
        var (code, stdout, stderr) = Run(
            "score",
            "--results", NabShared.Path_("results"),
            "--detector", "numenta",
            "--data", NabShared.Path_("data"),
            "--labels", NabShared.Path_("labels", "combined_windows.json"),
            "--files", NabShared.Path_("dev-files.txt"),
            "--table", table);
        Assert.True(code == 0, stderr);
        string[] lines = File.ReadAllLines(table);
        Assert.Equal("Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count,Windows,Windows_Detected", lines[0]);
        Assert.Equal(1 + (3 * 41), lines.Length);
        string[] totals = lines.Single(l => l.StartsWith("numenta,standard,Totals,", StringComparison.Ordinal)).Split(',');
        Assert.Equal(25.714342159841436, double.Parse(totals[4], CultureInfo.InvariantCulture), 1e-9);
        Assert.Equal("70", totals[10]);
        int detected = int.Parse(totals[11], CultureInfo.InvariantCulture);
        Assert.InRange(detected, 1, 69);

        // The file rows of a profile add up to its Totals row.
        double sum = lines.Where(l => l.StartsWith("numenta,standard,", StringComparison.Ordinal) && !l.Contains(",Totals,", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(',')[4], CultureInfo.InvariantCulture));
        Assert.Equal(25.714342159841436, sum, 1e-9);
        Assert.StartsWith("standard=", LastLine(stdout), StringComparison.Ordinal);
    }

    [Fact]
    public void Detected_windows_count_only_scorable_rows_at_or_above_the_threshold()
    {
        // 100 rows: probation 15; windows [10, 20] (partly probationary) and [50, 60].
        var file = new HtmEngine.Nab.Scoring.NabLabeledFile("a/b.csv", 100, [new(10, 20), new(50, 60)]);
        var scores = new double[100];
        scores[12] = 1.0; // inside the first window but probationary: not a detection
        Assert.Equal(0, NabScoreCommand.DetectedWindows(file, scores, 0.5));
        scores[20] = 0.5; // last row of the first window, exactly at the threshold
        Assert.Equal(1, NabScoreCommand.DetectedWindows(file, scores, 0.5));
        scores[61] = 0.9; // just after the second window
        Assert.Equal(1, NabScoreCommand.DetectedWindows(file, scores, 0.5));
        scores[50] = 0.6;
        Assert.Equal(2, NabScoreCommand.DetectedWindows(file, scores, 0.5));
        Assert.Equal(0, NabScoreCommand.DetectedWindows(file, scores, 1.05));
    }

    [Fact]
    public void Scores_at_thresholds_from_a_nab_thresholds_file_including_nulls()
    {
        string tiny = NabShared.Tiny;
        var (code, stdout, stderr) = Run(
            "--results", Path.Combine(tiny, "results", "toyrand"),
            "--detector", "toyrand",
            "--data", Path.Combine(tiny, "data"),
            "--labels", Path.Combine(tiny, "labels", "combined_windows.json"),
            "--thresholds", Path.Combine(tiny, "expected", "thresholds.json"));
        Assert.True(code == 0, stderr);
        double[] s = Summary(LastLine(stdout));
        using JsonDocument final = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(tiny, "expected", "final_results.json")));
        JsonElement e = final.RootElement.GetProperty("toyrand");
        Assert.Equal(e.GetProperty("standard").GetDouble(), s[0], 1e-9);
        Assert.Equal(e.GetProperty("reward_low_FP_rate").GetDouble(), s[1], 1e-9);
        Assert.Equal(e.GetProperty("reward_low_FN_rate").GetDouble(), s[2], 1e-9);
    }

    private string CopyTiny()
    {
        string source = NabShared.Tiny;
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(_temp, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return _temp;
    }

    private (int Code, string Out, string Err) RunTiny(string root, string detector = "toy") => Run(
        "--results", Path.Combine(root, "results"),
        "--detector", detector,
        "--data", Path.Combine(root, "data"),
        "--labels", Path.Combine(root, "labels", "combined_windows.json"));

    [Fact]
    public void Copied_tiny_corpus_scores_cleanly()
    {
        string root = CopyTiny();
        var (code, stdout, stderr) = RunTiny(root);
        Assert.True(code == 0, stderr);
        Assert.Equal(85.02289544647054, Summary(LastLine(stdout))[0], 1e-9);
    }

    [Fact]
    public void Result_file_with_too_few_rows_is_a_data_error_naming_the_file()
    {
        string root = CopyTiny();
        string path = Path.Combine(root, "results", "toy", "toyA", "toy_single_window.csv");
        string[] lines = File.ReadAllLines(path);
        File.WriteAllLines(path, lines[..^3]);
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains(path, stderr, StringComparison.Ordinal);
        Assert.Contains("has 37 data rows but the data file", stderr, StringComparison.Ordinal);
        Assert.Contains("has 40", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Result_file_with_too_many_rows_is_a_data_error()
    {
        string root = CopyTiny();
        string path = Path.Combine(root, "results", "toy", "toyB", "toy_adjacent_windows.csv");
        File.AppendAllLines(path, ["2020-01-01 09:00:00,1.0,0.5,0", "2020-01-01 09:05:00,1.0,0.5,0"]);
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains(path, stderr, StringComparison.Ordinal);
        Assert.Contains($"{path}:52: has 52 data rows", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Unparsable_score_names_file_and_line()
    {
        string root = CopyTiny();
        string path = Path.Combine(root, "results", "toy", "toyA", "toy_two_windows.csv");
        string[] lines = File.ReadAllLines(path);
        lines[5] = "2020-01-01 00:20:00,1.0,abc,0";
        File.WriteAllLines(path, lines);
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains($"{path}:6: unparsable anomaly_score 'abc'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Unparsable_timestamp_in_data_names_file_and_line()
    {
        string root = CopyTiny();
        string path = Path.Combine(root, "data", "toyA", "no_window.csv");
        string[] lines = File.ReadAllLines(path);
        lines[3] = "2020-13-01 00:10:00,5.0";
        File.WriteAllLines(path, lines);
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains($"{path}:4: unparsable timestamp '2020-13-01 00:10:00'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_for_a_missing_data_file_is_a_data_error()
    {
        string root = CopyTiny();
        string path = Path.Combine(root, "data", "toyB", "probation_window.csv");
        File.Delete(path);
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains(path, stderr, StringComparison.Ordinal);
        Assert.Contains("toyB/probation_window.csv", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_result_file_is_a_data_error()
    {
        string root = CopyTiny();
        string path = Path.Combine(root, "results", "toy", "toyB", "toy_probation_window.csv");
        File.Delete(path);
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains(path, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Window_boundary_not_in_the_data_is_a_data_error()
    {
        string root = CopyTiny();
        string labels = Path.Combine(root, "labels", "combined_windows.json");
        File.WriteAllText(labels, File.ReadAllText(labels).Replace("2020-01-01 02:15:00.000000", "2020-01-01 02:16:00.000000", StringComparison.Ordinal));
        var (code, _, stderr) = RunTiny(root);
        Assert.Equal(1, code);
        Assert.Contains(labels, stderr, StringComparison.Ordinal);
        Assert.Contains("'toyA/single_window.csv' window 0: end 2020-01-01 02:16:00 matches 0 rows", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void File_list_entry_without_labels_is_a_data_error()
    {
        string root = CopyTiny();
        string list = Path.Combine(root, "files.txt");
        File.WriteAllLines(list, ["# two files", "toyA/no_window.csv", "toyA/unknown.csv"]);
        var (code, _, stderr) = Run(
            "--results", Path.Combine(root, "results"), "--detector", "toy", "--data", Path.Combine(root, "data"),
            "--labels", Path.Combine(root, "labels", "combined_windows.json"), "--files", list);
        Assert.Equal(1, code);
        Assert.Contains("'toyA/unknown.csv' has no entry in the labels file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_thresholds_for_the_detector_is_a_data_error()
    {
        string root = CopyTiny();
        var (code, _, stderr) = Run(
            "--results", Path.Combine(root, "results"), "--detector", "toy", "--data", Path.Combine(root, "data"),
            "--labels", Path.Combine(root, "labels", "combined_windows.json"),
            "--thresholds", Path.Combine(root, "labels", "combined_windows.json"));
        Assert.Equal(1, code);
        Assert.Contains("no thresholds for detector 'toy'", stderr, StringComparison.Ordinal);
    }
}
