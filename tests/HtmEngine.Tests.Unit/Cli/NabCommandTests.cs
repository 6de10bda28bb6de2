using HtmEngine.Server;
using HtmEngine.Tests.Unit.Nab;

namespace HtmEngine.Tests.Unit.Cli;

public sealed class NabCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("htm-nab-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Runs_files_writes_nab_results_and_ends_with_the_score_line()
    {
        string list = Path.Combine(_dir, "files.txt");
        File.WriteAllText(list, "# two short files\nrealAdExchange/exchange-3_cpc_results.csv\nrealTraffic/speed_7578.csv\n");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(
            ["nab", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list, "--out", _dir, "--jobs", "2"],
            stdout,
            stderr);
        Assert.True(code == 0, stderr.ToString());
        string[] lines = stdout.ToString().TrimEnd().Split('\n');
        string last = lines[^1];
        Assert.Matches(@"^standard=-?[0-9.E-]+ low_fp=-?[0-9.E-]+ low_fn=-?[0-9.E-]+$", last);
        Assert.Contains("nab: 2/2 files", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("model: params=htmengine-0.3.4 tm=backtracking detector=custom ensemble=1 refractory=10", stdout.ToString(), StringComparison.Ordinal);

        string result = Path.Combine(_dir, "htmengine", "realTraffic", "htmengine_speed_7578.csv");
        string[] rows = File.ReadAllLines(result);
        Assert.Equal("timestamp,value,anomaly_score,raw_score,label", rows[0]);
        Assert.Equal(File.ReadAllLines(NabShared.Path_("data", "realTraffic", "speed_7578.csv")).Length, rows.Length);

        // The written files score the same as the run reported.
        var rescored = new StringWriter();
        Assert.Equal(0, CommandLine.Run(
            ["nab", "score", "--results", _dir, "--detector", "htmengine", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list],
            rescored,
            new StringWriter()));
        Assert.Equal(last, rescored.ToString().TrimEnd().Split('\n')[^1]);

        // The per-file table sits beside the detector folder: 3 profiles × (2 files + Totals) and a header.
        string[] table = File.ReadAllLines(Path.Combine(_dir, "htmengine-scores.csv"));
        Assert.Equal(10, table.Length);
        Assert.Contains(table, l => l.StartsWith("htmengine,standard,realTraffic/speed_7578.csv,", StringComparison.Ordinal));

        // Replaying the written raw scores through the same detector reproduces the run without the model.
        string replayOut = Path.Combine(_dir, "replay");
        var replayed = new StringWriter();
        var replayErr = new StringWriter();
        Assert.True(0 == CommandLine.Run(
            ["nab", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list, "--out", replayOut, "--replay", Path.Combine(_dir, "htmengine")],
            replayed,
            replayErr), replayErr.ToString());
        Assert.Equal(last, replayed.ToString().TrimEnd().Split('\n')[^1]);
        Assert.Contains("replayed raw scores", replayed.ToString(), StringComparison.Ordinal);
        Assert.Equal(
            File.ReadAllLines(result),
            File.ReadAllLines(Path.Combine(replayOut, "htmengine", "realTraffic", "htmengine_speed_7578.csv")));

        // A refractory period can only lower scores, and it changes the detector description.
        var refractory = new StringWriter();
        Assert.Equal(0, CommandLine.Run(
            ["nab", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list, "--out", Path.Combine(_dir, "r"), "--replay", Path.Combine(_dir, "htmengine"), "--refractory", "1000"],
            refractory,
            new StringWriter()));
        Assert.Contains("refractory=1000", refractory.ToString(), StringComparison.Ordinal);
        string[] plainRows = File.ReadAllLines(result);
        string[] refractoryRows = File.ReadAllLines(Path.Combine(_dir, "r", "htmengine", "realTraffic", "htmengine_speed_7578.csv"));
        int lowered = 0;
        for (int i = 1; i < plainRows.Length; i++)
        {
            double a = double.Parse(plainRows[i].Split(',')[2], System.Globalization.CultureInfo.InvariantCulture);
            double b = double.Parse(refractoryRows[i].Split(',')[2], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(b <= a, $"row {i}: {b} > {a}");
            lowered += b < a ? 1 : 0;
        }

        Assert.True(lowered > 0, "speed_7578 has repeated alerts; a 1000-record refractory period must demote some");
    }

    [Fact]
    public void The_nupic_flag_selects_nabs_parameters_and_detector_unless_parameters_are_given()
    {
        string list = Path.Combine(_dir, "files.txt");
        File.WriteAllText(list, "realTraffic/speed_7578.csv\n");
        string[] common = ["nab", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list, "--jobs", "1"];
        var nupic = new StringWriter();
        Assert.Equal(0, CommandLine.Run([.. common, "--nupic"], nupic, new StringWriter()));
        Assert.Contains("model: params=nab tm=backtracking detector=nupic ensemble=1 refractory=0", nupic.ToString(), StringComparison.Ordinal);
        var both = new StringWriter();
        Assert.Equal(0, CommandLine.Run([.. common, "--nupic", "--params", "htmengine-0.3.4"], both, new StringWriter()));
        Assert.Contains("model: params=htmengine-0.3.4 tm=backtracking detector=nupic", both.ToString(), StringComparison.Ordinal);
        Assert.NotEqual(nupic.ToString().TrimEnd().Split('\n')[^1], both.ToString().TrimEnd().Split('\n')[^1]);
    }

    [Fact]
    public void A_missing_replay_file_is_a_data_error_naming_it()
    {
        string list = Path.Combine(_dir, "files.txt");
        File.WriteAllText(list, "realTraffic/speed_7578.csv\n");
        var stderr = new StringWriter();
        int code = CommandLine.Run(
            ["nab", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list, "--replay", Path.Combine(_dir, "nothing")],
            new StringWriter(),
            stderr);
        Assert.Equal(1, code);
        Assert.Contains("nothing_speed_7578.csv", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_list_naming_a_missing_file_is_a_data_error()
    {
        string list = Path.Combine(_dir, "files.txt");
        File.WriteAllText(list, "realTraffic/no_such_file.csv\n");
        var stderr = new StringWriter();
        int code = CommandLine.Run(["nab", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list], new StringWriter(), stderr);
        Assert.Equal(1, code);
        Assert.Contains("no_such_file", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--jobs", "0")]
    [InlineData("--detector", "my_detector")]
    [InlineData("--params", "other")]
    [InlineData("--ensemble", "0")]
    [InlineData("--refractory", "-1")]
    [InlineData("--averaging", "0")]
    [InlineData("--tail", "both")]
    public void Usage_errors_name_the_option(string option, string value)
    {
        var stderr = new StringWriter();
        int code = CommandLine.Run(["nab", "--data", "d", "--labels", "l", option, value], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains(option, stderr.ToString(), StringComparison.Ordinal);
    }
}
