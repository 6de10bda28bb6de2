using System.Globalization;
using HtmEngine.Core.Models;
using HtmEngine.Nab;
using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;

namespace HtmEngine.Server.Commands;

/// <summary><c>htmengine nab</c>: run the HTM detector over a NAB corpus and score it; <c>nab score</c> scores existing results.</summary>
public sealed class NabCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "nab";

    /// <inheritdoc/>
    public string Summary => "Run the detector over a NAB corpus and print its NAB scores (nab score: score existing results).";

    /// <inheritdoc/>
    public string Help => """
        Usage: htmengine nab --data DIR --labels FILE [--files LIST] [--out DIR] [--detector NAME]
                             [--params htmengine-0.3.4|nab] [--tm backtracking|tm] [--jobs N]
                             [--nupic] [--ensemble K] [--refractory N] [--averaging N]
                             [--tail complement|mirror] [--replay DIR]
               htmengine nab --mode engine --data DIR --labels FILE [--files LIST] [--out DIR]
                             [--detector NAME] [--params SET] [--tm KIND] [--jobs N] [--config DIR]
               htmengine nab score --help

        Runs one fresh model per corpus file with NAB's conventions: the file's own min and max
        padded by 20 %, probationary period min(15 % of the file, 750), NuPIC's streaming anomaly
        likelihood and log score, and the spatial-anomaly rule. By default the model is the engine's
        (htmengine-0.3.4 parameters) and an alert within 10 records of the last reported one is
        reported as yellow; --nupic runs NuPIC's detector exactly (nab parameters, no refractory
        period), for comparing with its published results. Files run in parallel. Prints
        progress on stderr, a per-file score table and per-profile summary on stdout, and as its
        last line: standard=<x> low_fp=<y> low_fn=<z> (normalised scores, thresholds optimised on
        the files run).

        --mode engine runs each file through the real engine instead of a bare model: a private
        embedded engine per file (SQLite in a temp directory, in-process bus, the anomaly service,
        model runner and storer as 'serve' builds them), the metric monitored with the file's
        padded min/max, the rows published to the storer's queue, and the scores read back from
        metric_data. The final score is then the engine's anomaly_score (htmengine-spec 8.3, what
        users receive), not NAB's streaming likelihood; the raw scores equal the bare model's. A row
        whose timestamp is at or before the previous row's is rejected by the storer (as over
        Graphite) and carries the previous row's scores; the count is printed. The detector
        options below (--nupic ... --tail) and --replay do not apply to it.

        Options:
          --mode MODE       model (default): a bare model per file, scored with NAB's detector;
                            engine: each file through the engine pipeline (see above).
          --config DIR      Engine mode: the configuration whose [anomaly_likelihood] and
                            [metric_streamer] settings the engines use (found as 'serve' finds
                            it); storage and bus are always embedded, in a temp directory.
          --data DIR        NAB data folder (category sub-folders of timestamp,value CSVs).
          --labels FILE     NAB combined_windows.json.
          --files LIST      Text file of data paths relative to --data, one a line (# comments);
                            default: every file the labels name.
          --out DIR         Write NAB result files to DIR/<detector>/<category>/<detector>_<file>.csv
                            (timestamp,value,anomaly_score,raw_score,label). Default: none.
          --detector NAME   Detector name for result files and reports (default htmengine; no '_'
                            or '.').
          --params SET      Model parameter set: htmengine-0.3.4 (the original engine's template,
                            what the engine runs; default) or nab (NuPIC 1.0's; default with --nupic).
          --tm KIND         Temporal memory: backtracking (NuPIC's Cells4, default) or tm
                            (TemporalMemory, NAB's numentaTM).
          --jobs N          Files run at once (default: number of cores).
          --replay DIR      Do not run the model: replay the raw_score column of an earlier run's
                            results, DIR = that run's detector folder (e.g. OUT/htmengine); only
                            the likelihood, spatial rule and refractory period run.

        """ + DetectorOptionsParser.HelpText + """
          -h, --help        Show this text.

        With --out, the per-file score table of every profile (NAB's columns: threshold, score,
        TP, TN, FP, FN, total rows) is also written to DIR/<detector>-scores.csv.

        """;

    /// <inheritdoc/>
    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args.Count > 0 && args[0] == "score")
        {
            return NabScoreCommand.Run([.. args.Skip(1)], stdout, stderr);
        }

        var options = OptionParser.Parse(Name, args, ["--data", "--labels", "--files", "--out", "--detector", "--params", "--tm", "--jobs", "--replay", "--mode", "--config", .. DetectorOptionsParser.ValueOptions], [DetectorOptionsParser.NuPicFlag], stderr);
        if (options is null)
        {
            return 2;
        }

        if (options.HelpRequested)
        {
            stdout.Write(Help);
            return 0;
        }

        if (options.Positionals.Count > 0)
        {
            return Usage(stderr, $"unexpected argument '{options.Positionals[0]}'");
        }

        string? data = options.Value("--data");
        string? labels = options.Value("--labels");
        if (data is null || labels is null)
        {
            return Usage(stderr, data is null ? "--data is required" : "--labels is required");
        }

        string detector = options.Value("--detector") ?? "htmengine";
        if (detector.Length == 0 || detector.IndexOfAny(['_', '.', '/', '\\']) >= 0)
        {
            return Usage(stderr, $"--detector '{detector}' must be a plain name without '_', '.' or '/' (NAB splits result names on '_')");
        }

        string parameterSet = DetectorOptionsParser.ParameterSet(options);
        if (!ModelParameters.SetNames.Contains(parameterSet))
        {
            return Usage(stderr, $"--params '{parameterSet}' is not one of: {string.Join(", ", ModelParameters.SetNames)}");
        }

        if (!DetectCommand.TryParseTemporalMemory(options.Value("--tm"), out TemporalMemoryKind tm, out string? tmError))
        {
            return Usage(stderr, tmError!);
        }

        int jobs = Environment.ProcessorCount;
        string? jobsText = options.Value("--jobs");
        if (jobsText is not null && (!int.TryParse(jobsText, NumberStyles.None, CultureInfo.InvariantCulture, out jobs) || jobs < 1))
        {
            return Usage(stderr, $"--jobs '{jobsText}' must be a whole number of at least 1");
        }

        if (!DetectorOptionsParser.TryParse(options, out NabDetectorOptions detection, out string? detectionError))
        {
            return Usage(stderr, detectionError!);
        }

        string mode = options.Value("--mode") ?? "model";
        NabFileRunner? fileRunner = null;
        NabEngineRunner? engineRunner = null;
        if (mode == "engine")
        {
            string? notForEngine = options.Flag(DetectorOptionsParser.NuPicFlag) ? DetectorOptionsParser.NuPicFlag
                : options.Value("--replay") is not null ? "--replay"
                : DetectorOptionsParser.ValueOptions.FirstOrDefault(o => options.Value(o) is not null);
            if (notForEngine is not null)
            {
                return Usage(stderr, $"{notForEngine} does not apply to --mode engine (the engine's anomaly service computes the final score)");
            }

            EngineOptions engine;
            try
            {
                engine = EngineOptions.Bind(ConfigSource.LoadValues(options.Value("--config")));
            }
            catch (ConfigurationException e)
            {
                stderr.WriteLine($"htmengine nab: configuration error: {e.Message}");
                return 1;
            }

            engineRunner = new NabEngineRunner(engine, parameterSet, DetectCommand.TemporalMemoryName(tm));
            fileRunner = engineRunner.RunFile;
        }
        else if (mode != "model")
        {
            return Usage(stderr, $"--mode '{mode}' must be model or engine");
        }
        else if (options.Value("--config") is not null)
        {
            return Usage(stderr, "--config applies to --mode engine only");
        }

        string? filesList = options.Value("--files");
        try
        {
            var runOptions = new NabRunOptions
            {
                DataDirectory = data,
                LabelsPath = labels,
                Files = filesList is null ? null : NabCorpus.ReadFileList(filesList),
                FilesSource = filesList,
                OutputDirectory = options.Value("--out"),
                Detector = detector,
                ParameterSet = parameterSet,
                TemporalMemory = tm,
                Detection = detection,
                ReplayDirectory = options.Value("--replay"),
                Jobs = jobs,
                FileRunner = fileRunner,
            };
            NabRunResult result = NabCorpusRunner.Run(runOptions, p => ReportProgress(stderr, p));
            stderr.WriteLine();
            CultureInfo c = CultureInfo.InvariantCulture;
            NabScoreCommand.WriteReport(stdout, result.Score, result.Scorer, "optimised on these files");
            stdout.WriteLine(fileRunner is null
                ? string.Create(c, $"model: params={parameterSet} tm={DetectCommand.TemporalMemoryName(tm)} {DetectorOptionsParser.Describe(detection)} jobs={jobs}{(runOptions.ReplayDirectory is null ? "" : " replayed raw scores from " + runOptions.ReplayDirectory)}")
                : string.Create(c, $"model: mode=engine params={parameterSet} tm={DetectCommand.TemporalMemoryName(tm)} score=engine anomaly_score (htmengine-spec 8.3) jobs={jobs}"));
            if (engineRunner is not null)
            {
                stdout.WriteLine(string.Create(c, $"engine: {engineRunner.RejectedRows} rows in {engineRunner.FilesWithRejectedRows} files rejected by the storer (timestamp at or before the previous row's); they carry the previous row's scores"));
            }

            stdout.WriteLine(string.Create(c, $"time: {result.Records} records, detection {result.DetectTime.TotalSeconds:F1} s ({result.Records / result.DetectTime.TotalSeconds:F0} records/s on {jobs} jobs), scoring {result.ScoreTime.TotalSeconds:F1} s"));
            stdout.WriteLine(result.Score.SummaryLine);
            return 0;
        }
        catch (NabDataException e)
        {
            stderr.WriteLine($"htmengine nab: {e.Message}");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"htmengine nab: {e.Message}");
            return 1;
        }
    }

    private static void ReportProgress(TextWriter stderr, NabRunProgress p)
    {
        string left = p.Remaining is { } r ? $"{r.TotalSeconds:F0} s left" : "estimating";
        stderr.Write(string.Create(CultureInfo.InvariantCulture, $"\rnab: {p.FilesDone}/{p.FilesTotal} files, {p.RecordsDone}/{p.RecordsTotal} records, {p.RecordsPerSecond:F0} records/s, {left}   "));
    }

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"htmengine nab: {message}. Run 'htmengine nab --help'.");
        return 2;
    }
}
