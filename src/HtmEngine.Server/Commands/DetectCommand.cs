using System.Diagnostics;
using System.Globalization;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Server.Commands;

/// <summary><c>htmengine detect</c>: run one model over a <c>timestamp,value</c> CSV and write its scores.</summary>
public sealed class DetectCommand : ICommand
{
    private const string TimestampFormat = "yyyy-MM-dd HH:mm:ss";

    /// <inheritdoc/>
    public string Name => "detect";

    /// <inheritdoc/>
    public string Summary => "Score a timestamp,value CSV with one model and write timestamp,value,anomaly_score,raw_score.";

    /// <inheritdoc/>
    public string Help => """
        Usage: htmengine detect FILE.csv [--out OUT.csv] [--params htmengine-0.3.4|nab]
                                [--tm backtracking|tm] [--likelihood nab|engine] [--min X --max Y]
                                [--nupic] [--ensemble K] [--refractory N] [--averaging N]
                                [--tail complement|mirror]

        Runs one fresh model over FILE.csv (header timestamp,value; timestamps yyyy-MM-dd HH:mm:ss)
        in file order and writes timestamp,value,anomaly_score,raw_score, one row per input row.
        Then prints the number of records and records per second.

        The value range is the file's own min and max widened by 20 % on each side (NAB's rule),
        unless --min and --max are given, which are then used as they are.

        Options:
          --out FILE         Write the scores to FILE (default: standard output; the summary then
                             goes to standard error).
          --params SET       htmengine-0.3.4 (the original engine's template; default) or nab
                             (NuPIC 1.0's; default with --nupic).
          --tm KIND          backtracking (NuPIC's Cells4, default) or tm (TemporalMemory).
          --likelihood KIND  nab: NuPIC's streaming likelihood with NAB's probation, log score and
                             spatial rule; anomaly_score is NAB's final score (default).
                             engine: htmengine's batch likelihood helper fed one row at a time;
                             anomaly_score is the likelihood the engine stores.
          --min X, --max Y   The model's value range (both or neither).
          -h, --help         Show this text.

        Detector options (with --likelihood nab):

        """ + DetectorOptionsParser.HelpText + """

        Errors name the file and line (a bad timestamp, a value that is not a finite number).
        """;

    /// <summary>Parses a <c>--tm</c> value (null means the default).</summary>
    public static bool TryParseTemporalMemory(string? text, out TemporalMemoryKind kind, out string? error)
    {
        kind = TemporalMemoryKind.Backtracking;
        error = null;
        switch (text)
        {
            case null or "backtracking":
                return true;
            case "tm":
                kind = TemporalMemoryKind.TemporalMemory;
                return true;
            default:
                error = $"--tm '{text}' is not a temporal memory; expected backtracking or tm";
                return false;
        }
    }

    /// <summary>The command-line name of a temporal memory kind.</summary>
    public static string TemporalMemoryName(TemporalMemoryKind kind) => kind == TemporalMemoryKind.Backtracking ? "backtracking" : "tm";

    /// <inheritdoc/>
    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var options = OptionParser.Parse(Name, args, ["--out", "--params", "--tm", "--likelihood", "--min", "--max", .. DetectorOptionsParser.ValueOptions], [DetectorOptionsParser.NuPicFlag], stderr);
        if (options is null)
        {
            return 2;
        }

        if (options.HelpRequested)
        {
            stdout.Write(Help);
            return 0;
        }

        if (options.Positionals.Count != 1)
        {
            return Usage(stderr, options.Positionals.Count == 0 ? "FILE.csv is missing" : $"unexpected argument '{options.Positionals[1]}'");
        }

        string parameterSet = DetectorOptionsParser.ParameterSet(options);
        if (!ModelParameters.SetNames.Contains(parameterSet))
        {
            return Usage(stderr, $"--params '{parameterSet}' is not one of: {string.Join(", ", ModelParameters.SetNames)}");
        }

        if (!TryParseTemporalMemory(options.Value("--tm"), out TemporalMemoryKind tm, out string? tmError))
        {
            return Usage(stderr, tmError!);
        }

        string likelihood = options.Value("--likelihood") ?? "nab";
        if (likelihood is not ("nab" or "engine"))
        {
            return Usage(stderr, $"--likelihood '{likelihood}' must be nab or engine");
        }

        if (!DetectorOptionsParser.TryParse(options, out NabDetectorOptions detection, out string? detectionError))
        {
            return Usage(stderr, detectionError!);
        }

        string? minText = options.Value("--min");
        string? maxText = options.Value("--max");
        if ((minText is null) != (maxText is null))
        {
            return Usage(stderr, "--min and --max go together");
        }

        double givenMin = 0;
        double givenMax = 0;
        if (minText is not null && (!TryParseFinite(minText, out givenMin) || !TryParseFinite(maxText!, out givenMax)))
        {
            return Usage(stderr, $"--min '{minText}' and --max '{maxText}' must be finite numbers");
        }

        if (minText is not null && givenMax < givenMin)
        {
            return Usage(stderr, $"--max {maxText} is below --min {minText}");
        }

        string path = options.Positionals[0];
        NabSeries series;
        try
        {
            series = NabCsv.ReadSeries(path, Path.GetFileName(path));
        }
        catch (NabDataException e)
        {
            stderr.WriteLine($"htmengine detect: {e.Message}");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"htmengine detect: {path}: {e.Message}");
            return 1;
        }

        if (series.Length == 0)
        {
            stderr.WriteLine($"htmengine detect: {path}: the file has a header but no data rows");
            return 1;
        }

        (double min, double max) = minText is not null ? (givenMin, givenMax) : PaddedRange(series.Values);
        ModelParameters parameters = ModelParameters.Create(parameterSet, min, max, tm);
        string? outPath = options.Value("--out");
        TextWriter summary = outPath is null ? stderr : stdout;
        var clock = Stopwatch.StartNew();
        double[] scores = new double[series.Length];
        double[] raw = new double[series.Length];
        if (likelihood == "nab")
        {
            var detector = new NabDetector(parameters, NabAnomalyLikelihood.NabProbationaryPeriod(series.Length), detection);
            for (int i = 0; i < series.Length; i++)
            {
                DetectorScore s = detector.Step(series.Timestamps[i], series.Values[i]);
                scores[i] = s.Score;
                raw[i] = s.RawScore;
            }
        }
        else
        {
            RunEngineLikelihood(new HtmModel(parameters), series, scores, raw);
        }

        TimeSpan elapsed = clock.Elapsed;
        try
        {
            if (outPath is null)
            {
                WriteScores(stdout, series, scores, raw);
            }
            else
            {
                using var file = new StreamWriter(outPath);
                WriteScores(file, series, scores, raw);
            }
        }
        catch (IOException e)
        {
            stderr.WriteLine($"htmengine detect: cannot write {outPath ?? "standard output"}: {e.Message}");
            return 1;
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        summary.WriteLine(string.Create(c, $"detect: {series.Length} records in {elapsed.TotalSeconds:F3} s = {series.Length / elapsed.TotalSeconds:F0} records/s (params={parameterSet} tm={TemporalMemoryName(tm)} likelihood={likelihood}{(likelihood == "nab" ? " " + DetectorOptionsParser.Describe(detection) : "")} min={min:R} max={max:R} resolution={parameters.Resolution:R})"));
        return 0;
    }

    private static void RunEngineLikelihood(HtmModel model, NabSeries series, double[] scores, double[] raw)
    {
        var likelihood = new EngineLikelihoodSeries();
        for (int i = 0; i < series.Length; i++)
        {
            raw[i] = model.Step(series.Timestamps[i], series.Values[i]);
            scores[i] = likelihood.Next(series.Timestamps[i], series.Values[i], raw[i]);
        }
    }

    private static void WriteScores(TextWriter output, NabSeries series, double[] scores, double[] raw)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        output.WriteLine("timestamp,value,anomaly_score,raw_score");
        for (int i = 0; i < series.Length; i++)
        {
            output.Write(series.Timestamps[i].ToString(TimestampFormat, c));
            output.Write(',');
            output.Write(series.Values[i].ToString("R", c));
            output.Write(',');
            output.Write(scores[i].ToString("R", c));
            output.Write(',');
            output.WriteLine(raw[i].ToString("R", c));
        }
    }

    private static (double Min, double Max) PaddedRange(double[] values)
    {
        double min = double.PositiveInfinity;
        double max = double.NegativeInfinity;
        foreach (double v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return ModelParameters.PadObservedRange(min, max);
    }

    private static bool TryParseFinite(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"htmengine detect: {message}. Run 'htmengine detect --help'.");
        return 2;
    }
}
