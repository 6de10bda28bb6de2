using HtmEngine.Core.Models;
using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;
using HtmEngine.Server;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Tests.Unit.Nab;

namespace HtmEngine.Tests.Unit.Cli;

/// <summary>
/// <c>htmengine nab --mode engine</c>: a NAB file through the whole embedded engine (storer, model runner, anomaly
/// service, SQLite, in-process bus) must give the bare model's raw scores bit for bit (the engine adds transport, never
/// changes scores), and its results are written and scored like the bare mode's.
/// </summary>
public sealed class NabEngineModeTests : IDisposable
{
    private const string SmallFile = "realTraffic/speed_7578.csv";
    private readonly string _dir = Directory.CreateTempSubdirectory("htm-nab-engine-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string ShippedConf
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
                {
                    return Path.Combine(dir.FullName, "conf");
                }
            }

            throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
        }
    }

    [Fact]
    public async Task Engine_raw_scores_equal_the_bare_models_and_the_results_score_like_bare_results()
    {
        NabCorpus corpus = NabCorpus.Load(NabShared.Path_("data"), NabShared.Path_("labels", "combined_windows.json"), [SmallFile]);
        NabLabeledFile file = corpus.Files.Single();
        var bareOptions = new NabRunOptions { DataDirectory = NabShared.Path_("data"), LabelsPath = NabShared.Path_("labels", "combined_windows.json") };
        (_, double[] bareRaw) = NabCorpusRunner.RunFile(file, bareOptions);

        var runner = new NabEngineRunner(ConfigLoader.Load(ShippedConf), ModelParameters.HtmEngine034SetName, "backtracking");
        int reported = 0;
        (double[] engineScores, double[] engineRaw) = await runner.RunFileAsync(file, n => reported += n, CancellationToken.None);

        Assert.Equal(file.RowCount, reported);
        Assert.Equal(bareRaw.Length, engineRaw.Length);
        for (int i = 0; i < bareRaw.Length; i++)
        {
            Assert.True(BitConverter.DoubleToInt64Bits(bareRaw[i]) == BitConverter.DoubleToInt64Bits(engineRaw[i]), $"row {i + 1}: engine raw {engineRaw[i]:R}, bare {bareRaw[i]:R}");
        }

        // The final score is the engine's likelihood (htmengine-spec 8.3): 0 while the first 100 rows initialise it,
        // then 0.5 until its window holds more than 288 rows, then fitted scores.
        Assert.All(engineScores.Take(100), s => Assert.Equal(0, s));
        Assert.Equal(0.5, engineScores[150]);
        Assert.Contains(engineScores.Skip(300), s => s != 0.5);
        Assert.All(engineScores, s => Assert.InRange(s, 0, 1));

        // Through the command: the written results score exactly as the run reported (nab score on the files).
        string list = Path.Combine(_dir, "files.txt");
        File.WriteAllText(list, SmallFile + "\n");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(
            ["nab", "--mode", "engine", "--config", ShippedConf, "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list, "--out", _dir, "--detector", "engine"],
            stdout,
            stderr);
        Assert.True(code == 0, stderr.ToString());
        string last = stdout.ToString().TrimEnd().Split('\n')[^1];
        Assert.Matches(@"^standard=-?[0-9.E-]+ low_fp=-?[0-9.E-]+ low_fn=-?[0-9.E-]+$", last);
        Assert.Contains("model: mode=engine params=htmengine-0.3.4 tm=backtracking", stdout.ToString(), StringComparison.Ordinal);

        string[] rows = File.ReadAllLines(Path.Combine(_dir, "engine", "realTraffic", "engine_speed_7578.csv"));
        Assert.Equal("timestamp,value,anomaly_score,raw_score,label", rows[0]);
        Assert.Equal(file.RowCount + 1, rows.Length);
        double[] writtenScores = NabCsv.ReadScoreColumn(Path.Combine(_dir, "engine", "realTraffic", "engine_speed_7578.csv"), "anomaly_score", file.RowCount, file.Name);
        Assert.Equal(engineScores.Select(NabResultWriter.RoundForResults).ToArray(), writtenScores);

        var rescored = new StringWriter();
        Assert.Equal(0, CommandLine.Run(
            ["nab", "score", "--results", _dir, "--detector", "engine", "--data", NabShared.Path_("data"), "--labels", NabShared.Path_("labels", "combined_windows.json"), "--files", list],
            rescored,
            new StringWriter()));
        Assert.Equal(last, rescored.ToString().TrimEnd().Split('\n')[^1]);
    }

    [Fact]
    public async Task Rows_the_storer_rejects_carry_the_previous_rows_scores_and_bad_rows_name_the_file()
    {
        // Bare mode takes a repeated timestamp; the engine's storer rejects it as a duplicate (spec 3.3), as it would
        // over Graphite. The rejected row carries the previous row's scores, so the file still has one score per row.
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(Path.Combine(data, "cat"));
        var lines = new List<string> { "timestamp,value" };
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
        for (int i = 0; i < 40; i++)
        {
            lines.Add($"{start.AddMinutes(5 * (i == 20 ? 19 : i)):yyyy-MM-dd HH:mm:ss},{i % 7}");
        }

        File.WriteAllLines(Path.Combine(data, "cat", "dup.csv"), lines);
        string labels = Path.Combine(_dir, "labels.json");
        File.WriteAllText(labels, "{\"cat/dup.csv\": []}");
        NabLabeledFile file = NabCorpus.Load(data, labels, null).Files.Single();
        var runner = new NabEngineRunner(ConfigLoader.Load(ShippedConf), ModelParameters.HtmEngine034SetName, "backtracking");
        (_, double[] raw) = await runner.RunFileAsync(file, _ => { }, CancellationToken.None);
        Assert.Equal(40, raw.Length);
        Assert.Equal(raw[19], raw[20]);
        Assert.Equal(1, runner.RejectedRows);
        Assert.Equal(1, runner.FilesWithRejectedRows);

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.True(0 == CommandLine.Run(["nab", "--mode", "engine", "--config", ShippedConf, "--data", data, "--labels", labels], stdout, stderr), stderr.ToString());
        Assert.Contains("engine: 1 rows in 1 files rejected by the storer", stdout.ToString(), StringComparison.Ordinal);

        // A malformed row is reported with file and line before any engine starts.
        lines[5] = "2024-01-01 00:20:00,abc";
        File.WriteAllLines(Path.Combine(data, "cat", "dup.csv"), lines);
        stderr = new StringWriter();
        Assert.Equal(1, CommandLine.Run(["nab", "--mode", "engine", "--config", ShippedConf, "--data", data, "--labels", labels], new StringWriter(), stderr));
        Assert.Contains("dup.csv:6", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--refractory", "5", "--refractory does not apply to --mode engine")]
    [InlineData("--nupic", null, "--nupic does not apply to --mode engine")]
    [InlineData("--replay", "x", "--replay does not apply to --mode engine")]
    public void Detector_options_are_refused_in_engine_mode(string option, string? value, string message)
    {
        var stderr = new StringWriter();
        string[] extra = value is null ? [option] : [option, value];
        int code = CommandLine.Run(["nab", "--mode", "engine", "--data", _dir, "--labels", _dir, .. extra], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_mode_and_help()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, CommandLine.Run(["nab", "--mode", "fast", "--data", _dir, "--labels", _dir], new StringWriter(), stderr));
        Assert.Contains("--mode 'fast' must be model or engine", stderr.ToString(), StringComparison.Ordinal);

        var help = new StringWriter();
        Assert.Equal(0, CommandLine.Run(["nab", "--help"], help, new StringWriter()));
        Assert.Contains("--mode engine", help.ToString(), StringComparison.Ordinal);
        Assert.Contains("--config DIR", help.ToString(), StringComparison.Ordinal);
    }
}
