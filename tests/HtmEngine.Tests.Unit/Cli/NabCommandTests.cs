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
    public void Usage_errors_name_the_option(string option, string value)
    {
        var stderr = new StringWriter();
        int code = CommandLine.Run(["nab", "--data", "d", "--labels", "l", option, value], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains(option, stderr.ToString(), StringComparison.Ordinal);
    }
}
