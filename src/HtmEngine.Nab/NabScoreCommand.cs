using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Nab;

/// <summary>
/// The <c>htmengine nab score</c> command: scores a detector's existing NAB result files and prints
/// the per-file table and the normalised scores.
/// </summary>
public static class NabScoreCommand
{
    /// <summary>Exit code on success.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code when the data is wrong (missing or malformed file; the message names file and line).</summary>
    public const int ExitDataError = 1;

    /// <summary>Exit code on a command-line usage error.</summary>
    public const int ExitUsage = 2;

    /// <summary>The command's help text.</summary>
    public const string HelpText =
        """
        Usage: htmengine nab score --results DIR --detector NAME --data DIR --labels FILE
                                   [--files LIST] [--profiles FILE] [--thresholds optimize|FILE]
                                   [--table FILE]

        Scores a detector's existing result files exactly as the Numenta Anomaly Benchmark (NAB v1.1)
        does, prints a per-file table and the normalised scores, and ends with the line
          standard=<x> low_fp=<y> low_fn=<z>

        Options:
          --results DIR       Folder holding DIR/NAME/<category>/NAME_<file>.csv (NAB's results
                              folder), or the detector's own folder DIR=.../NAME.
          --detector NAME     The detector: results sub-folder and result-file prefix.
          --data DIR          The corpus folder holding <category>/<file>.csv.
          --labels FILE       NAB's combined_windows.json. Every labelled file is scored unless
                              --files is given.
          --files LIST        Score only these files: one path relative to --data per line; blank
                              lines and lines starting with # are skipped (e.g. dev-files.txt).
          --profiles FILE     NAB's profiles.json (default: NAB's weights: standard A_FP 0.11,
                              reward_low_FP_rate A_FP 0.22, reward_low_FN_rate A_FN 2).
          --thresholds optimize|FILE
                              optimize (default): per profile, the threshold that maximises the
                              total score over the scored files (NAB's --optimize).
                              FILE: a NAB thresholds.json ({detector: {profile: {"threshold": t}}});
                              its "null" entry, if any, sets the null detector's thresholds.
          --table FILE        Also write the per-file table of every profile as CSV (NAB's score-table
                              columns, a Totals row per profile, windows and windows detected).
          -h, --help          Show this help.

        A row is a detection when its anomaly_score >= threshold. The baseline is the null detector
        (0.5 on every row) scored on the same files; perfect = A_TP x number of windows;
        normalised = 100 (score - null) / (perfect - null).

        Exit codes: 0 success; 1 data error (the message names the file and line); 2 usage error.
        """;

    private static readonly string[] s_options = ["--results", "--detector", "--data", "--labels", "--files", "--profiles", "--thresholds", "--table"];

    /// <summary>
    /// Runs the command. <paramref name="args"/> are the arguments after <c>nab score</c>
    /// (a leading <c>score</c> token is accepted and skipped).
    /// </summary>
    /// <param name="args">The arguments.</param>
    /// <param name="stdout">Where the table and scores go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <returns>0 on success, 1 on a data error, 2 on a usage error.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        int start = args.Length > 0 && args[0] == "score" ? 1 : 0;
        for (int i = start; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help")
            {
                stdout.WriteLine(HelpText);
                return ExitOk;
            }

            string name = arg;
            string? value = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }

            if (!s_options.Contains(name))
            {
                return Usage(stderr, $"unknown argument '{arg}'");
            }

            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    return Usage(stderr, $"{name} needs a value");
                }

                value = args[++i];
            }

            if (value.Length == 0)
            {
                return Usage(stderr, $"{name} needs a non-empty value");
            }

            if (!options.TryAdd(name, value))
            {
                return Usage(stderr, $"{name} given twice");
            }
        }

        foreach (string required in new[] { "--results", "--detector", "--data", "--labels" })
        {
            if (!options.ContainsKey(required))
            {
                return Usage(stderr, $"missing {required}");
            }
        }

        string detector = options["--detector"];
        if (detector.IndexOfAny(['/', '\\']) >= 0 || detector is "." or "..")
        {
            return Usage(stderr, $"--detector '{detector}' must be a plain name");
        }

        try
        {
            return Score(options, detector, stdout);
        }
        catch (NabDataException ex)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return ExitDataError;
        }
        catch (IOException ex)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return ExitDataError;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return ExitDataError;
        }
    }

    private static int Score(Dictionary<string, string> options, string detector, TextWriter stdout)
    {
        var clock = Stopwatch.StartNew();
        string results = options["--results"];
        string detectorDirectory = Path.Combine(results, detector);
        if (!Directory.Exists(detectorDirectory))
        {
            string trimmed = Path.TrimEndingDirectorySeparator(results);
            if (Path.GetFileName(trimmed) == detector && Directory.Exists(trimmed))
            {
                detectorDirectory = trimmed;
            }
            else
            {
                throw new NabMissingFileException(detectorDirectory, $"results folder of detector '{detector}' not found");
            }
        }

        IReadOnlyList<NabProfile> profiles = options.TryGetValue("--profiles", out string? profilesPath)
            ? NabProfile.Load(profilesPath)
            : NabProfile.Defaults;

        Dictionary<string, double>? thresholds = null;
        Dictionary<string, double>? nullThresholds = null;
        string thresholdMode = options.GetValueOrDefault("--thresholds", "optimize");
        if (thresholdMode != "optimize")
        {
            (thresholds, nullThresholds) = ReadThresholds(thresholdMode, detector, profiles);
        }

        IReadOnlyList<string>? files = options.TryGetValue("--files", out string? listPath) ? NabCorpus.ReadFileList(listPath) : null;
        NabCorpus corpus = NabCorpus.Load(options["--data"], options["--labels"], files, listPath);
        double[][] scores = corpus.ReadResults(detectorDirectory, detector);
        TimeSpan readTime = clock.Elapsed;
        NabScorer scorer = corpus.CreateScorer(profiles);
        NabDetectorScore result = scorer.Score(detector, scores, thresholds, nullThresholds);
        TimeSpan scoreTime = clock.Elapsed - readTime;

        WriteReport(stdout, result, scorer, thresholds is null ? "optimised on these files" : $"from {thresholdMode}");
        if (options.TryGetValue("--table", out string? tablePath))
        {
            using var table = new StreamWriter(tablePath);
            WriteScoreTable(table, result, scorer, scores);
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"time: read {readTime.TotalSeconds:F2} s, scored {scoreTime.TotalSeconds:F2} s"));
        stdout.WriteLine(result.SummaryLine);
        return ExitOk;
    }

    private static (Dictionary<string, double> Detector, Dictionary<string, double>? Null) ReadThresholds(
        string path, string detector, IReadOnlyList<NabProfile> profiles)
    {
        using (JsonDocument document = NabJson.ParseObject(path, "thresholds file (use --thresholds optimize to optimise)", "expected {detector: {profile: {\"threshold\": t}}}"))
        {

            if (!document.RootElement.TryGetProperty(detector, out JsonElement entry))
            {
                throw new NabFormatException(path, null, $"no thresholds for detector '{detector}'");
            }

            Dictionary<string, double> forDetector = Entry(path, detector, entry, profiles);
            Dictionary<string, double>? forNull = document.RootElement.TryGetProperty("null", out JsonElement nullEntry)
                ? Entry(path, "null", nullEntry, profiles)
                : null;
            return (forDetector, forNull);
        }
    }

    private static Dictionary<string, double> Entry(string path, string detector, JsonElement entry, IReadOnlyList<NabProfile> profiles)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (NabProfile profile in profiles)
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty(profile.Name, out JsonElement p)
                || p.ValueKind != JsonValueKind.Object
                || !p.TryGetProperty("threshold", out JsonElement t)
                || t.ValueKind != JsonValueKind.Number
                || !t.TryGetDouble(out double threshold))
            {
                throw new NabFormatException(path, null, $"detector '{detector}': no numeric threshold for profile '{profile.Name}'");
            }

            if (!(threshold <= NabScoring.InitialThreshold))
            {
                throw new NabFormatException(path, null, $"detector '{detector}', profile '{profile.Name}': threshold {threshold.ToString("R", CultureInfo.InvariantCulture)} is above 1.1, which NAB cannot score");
            }

            result[profile.Name] = threshold;
        }

        return result;
    }

    /// <summary>Writes the per-file table and the per-profile summary of a scored detector.</summary>
    /// <param name="o">Where to write.</param>
    /// <param name="result">The scores.</param>
    /// <param name="scorer">The scorer that produced them (files, windows).</param>
    /// <param name="thresholdSource">Where the thresholds came from, for the heading.</param>
    public static void WriteReport(TextWriter o, NabDetectorScore result, NabScorer scorer, string thresholdSource)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(c, $"NAB score of '{result.Detector}': {scorer.Files.Count} files, {scorer.RowCount} rows ({scorer.ScorableRowCount} scorable), {scorer.WindowCount} windows; thresholds {thresholdSource}"));
        o.WriteLine();
        int nameWidth = Math.Max(4, scorer.Files.Count == 0 ? 4 : scorer.Files.Max(f => f.Name.Length));
        var header = new System.Text.StringBuilder();
        header.Append(c, $"{"file".PadRight(nameWidth)} {"rows",7} {"windows",7}");
        foreach (NabProfileScore p in result.Profiles)
        {
            header.Append(c, $" {Short(p.Profile.Name),12}");
        }

        header.Append(c, $" {"TP",6} {"FP",6} {"FN",6}");
        o.WriteLine(header.ToString());
        for (int f = 0; f < scorer.Files.Count; f++)
        {
            NabLabeledFile file = scorer.Files[f];
            var line = new System.Text.StringBuilder();
            line.Append(c, $"{file.Name.PadRight(nameWidth)} {file.RowCount,7} {file.Windows.Count,7}");
            foreach (NabProfileScore p in result.Profiles)
            {
                line.Append(c, $" {p.Files[f].Score,12:F6}");
            }

            NabFileScore first = result.Profiles[0].Files[f];
            line.Append(c, $" {first.TruePositives,6} {first.FalsePositives,6} {first.FalseNegatives,6}");
            o.WriteLine(line.ToString());
        }

        o.WriteLine(string.Create(c, $"(TP/FP/FN: rows, for profile {result.Profiles[0].Profile.Name}; per-profile columns are raw scores)"));
        o.WriteLine();
        o.WriteLine(string.Create(c, $"{"profile",-20} {"threshold",-20} {"raw score",-20} {"null",-20} {"perfect",8} {"normalised",-20}"));
        foreach (NabProfileScore p in result.Profiles)
        {
            o.WriteLine(string.Create(c, $"{p.Profile.Name,-20} {p.Threshold,-20:R} {p.RawScore,-20:R} {p.NullScore,-20:R} {p.PerfectScore,8:R} {p.NormalizedScore,-20:R}"));
        }

        o.WriteLine();
    }

    /// <summary>
    /// Writes the per-file score table of every profile as CSV, NAB's <c>&lt;det&gt;_&lt;profile&gt;_scores.csv</c>
    /// columns for all profiles in one file (a <c>Totals</c> row closes each profile), plus per file the number of
    /// windows and how many of them hold a detection (a scorable row at or above the threshold).
    /// </summary>
    /// <param name="o">Where to write.</param>
    /// <param name="result">The scores.</param>
    /// <param name="scorer">The scorer that produced them (files, windows).</param>
    /// <param name="anomalyScores">The anomaly scores that were scored, one array per file in <see cref="NabScorer.Files"/> order.</param>
    public static void WriteScoreTable(TextWriter o, NabDetectorScore result, NabScorer scorer, IReadOnlyList<double[]> anomalyScores)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(anomalyScores);
        if (anomalyScores.Count != scorer.Files.Count)
        {
            throw new ArgumentException($"{anomalyScores.Count} score arrays for {scorer.Files.Count} files.", nameof(anomalyScores));
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        o.WriteLine("Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count,Windows,Windows_Detected");
        foreach (NabProfileScore p in result.Profiles)
        {
            int tp = 0, tn = 0, fp = 0, fn = 0, total = 0, windows = 0, detected = 0;
            for (int f = 0; f < scorer.Files.Count; f++)
            {
                NabLabeledFile file = scorer.Files[f];
                NabFileScore s = p.Files[f];
                int hit = DetectedWindows(file, anomalyScores[f], p.Threshold);
                o.WriteLine(string.Create(c, $"{result.Detector},{p.Profile.Name},{file.Name},{s.Threshold:R},{s.Score:R},{s.TruePositives},{s.TrueNegatives},{s.FalsePositives},{s.FalseNegatives},{s.Total},{file.Windows.Count},{hit}"));
                tp += s.TruePositives;
                tn += s.TrueNegatives;
                fp += s.FalsePositives;
                fn += s.FalseNegatives;
                total += s.Total;
                windows += file.Windows.Count;
                detected += hit;
            }

            o.WriteLine(string.Create(c, $"{result.Detector},{p.Profile.Name},Totals,{p.Threshold:R},{p.RawScore:R},{tp},{tn},{fp},{fn},{total},{windows},{detected}"));
        }
    }

    /// <summary>Number of <paramref name="file"/>'s windows with a scorable row scored at or above <paramref name="threshold"/>.</summary>
    public static int DetectedWindows(NabLabeledFile file, ReadOnlySpan<double> scores, double threshold)
    {
        ArgumentNullException.ThrowIfNull(file);
        int detected = 0;
        foreach (NabWindow w in file.Windows)
        {
            for (int i = Math.Max(w.Start, file.ProbationaryLength); i <= w.End && i < scores.Length; i++)
            {
                if (scores[i] >= threshold)
                {
                    detected++;
                    break;
                }
            }
        }

        return detected;
    }

    private static string Short(string profile) => profile switch
    {
        NabProfile.StandardName => "standard",
        NabProfile.LowFpName => "low_fp",
        NabProfile.LowFnName => "low_fn",
        _ => profile,
    };

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"error: {message}");
        stderr.WriteLine("Usage: htmengine nab score --results DIR --detector NAME --data DIR --labels FILE [--files LIST] [--profiles FILE] [--thresholds optimize|FILE] [--table FILE]");
        stderr.WriteLine("Run 'htmengine nab score --help' for details.");
        return ExitUsage;
    }
}
