using System.Globalization;
using HtmEngine.Server;

namespace HtmEngine.Tests.Unit.Cli;

public sealed class DetectCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("htm-detect-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Csv(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Series(int rows)
    {
        var lines = new List<string> { "timestamp,value" };
        var t = new DateTime(2014, 4, 1, 0, 0, 0);
        for (int i = 0; i < rows; i++)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{t.AddMinutes(5 * i):yyyy-MM-dd HH:mm:ss},{20 + (10 * Math.Sin(i / 10.0)):F3}"));
        }

        return Csv("series.csv", string.Join('\n', lines) + "\n");
    }

    [Fact]
    public void Writes_one_score_row_per_input_row_and_reports_speed()
    {
        string input = Series(400);
        string output = Path.Combine(_dir, "out.csv");
        var (code, stdout, stderr) = Run("detect", input, "--out", output);
        Assert.True(code == 0, stderr);
        string[] lines = File.ReadAllLines(output);
        Assert.Equal("timestamp,value,anomaly_score,raw_score", lines[0]);
        Assert.Equal(401, lines.Length);
        Assert.StartsWith("2014-04-01 00:00:00,", lines[1], StringComparison.Ordinal);
        foreach (string line in lines.Skip(1))
        {
            string[] f = line.Split(',');
            Assert.InRange(double.Parse(f[2], CultureInfo.InvariantCulture), 0, 1);
            Assert.InRange(double.Parse(f[3], CultureInfo.InvariantCulture), 0, 1);
        }

        Assert.Contains("records/s", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Same_input_gives_identical_output_and_the_engine_likelihood_and_tm_options_work()
    {
        string input = Series(300);
        var first = Run("detect", input);
        var second = Run("detect", input);
        Assert.Equal(0, first.Code);
        Assert.Equal(first.Out, second.Out);
        var engine = Run("detect", input, "--likelihood", "engine", "--params", "htmengine-0.3.4", "--min", "0", "--max", "40");
        Assert.True(engine.Code == 0, engine.Err);
        Assert.Equal(301, engine.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var tm = Run("detect", input, "--tm", "tm");
        Assert.True(tm.Code == 0, tm.Err);
    }

    [Fact]
    public void A_bad_value_is_reported_with_file_and_line()
    {
        string input = Csv("bad.csv", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n");
        var (code, _, err) = Run("detect", input);
        Assert.Equal(1, code);
        Assert.Contains("bad.csv", err, StringComparison.Ordinal);
        Assert.Contains("3", err, StringComparison.Ordinal);
        Assert.Contains("abc", err, StringComparison.Ordinal);
    }

    [Fact]
    public void NaN_values_bad_timestamps_and_empty_files_are_rejected_clearly()
    {
        var nan = Run("detect", Csv("nan.csv", "timestamp,value\n2014-04-01 00:00:00,NaN\n"));
        Assert.Equal(1, nan.Code);
        Assert.Contains("not a finite number", nan.Err, StringComparison.Ordinal);
        var ts = Run("detect", Csv("ts.csv", "timestamp,value\n2014/04/01,1\n"));
        Assert.Equal(1, ts.Code);
        Assert.Contains("timestamp", ts.Err, StringComparison.Ordinal);
        var empty = Run("detect", Csv("empty.csv", "timestamp,value\n"));
        Assert.Equal(1, empty.Code);
        Assert.Contains("no data rows", empty.Err, StringComparison.Ordinal);
        var nothing = Run("detect", Csv("nothing.csv", ""));
        Assert.Equal(1, nothing.Code);
        Assert.Contains("empty", nothing.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--min", "1")]
    [InlineData("--params", "nupic")]
    [InlineData("--likelihood", "magic")]
    [InlineData("--tm", "quantum")]
    public void Usage_errors_exit_2_and_name_the_option(string option, string value)
    {
        var (code, _, err) = Run("detect", Series(10), option, value);
        Assert.Equal(2, code);
        Assert.Contains(option, err, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_is_specific()
    {
        var (code, stdout, _) = Run("detect", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--likelihood", stdout, StringComparison.Ordinal);
    }
}
