using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Nab.Running;

/// <summary>
/// Runs one fresh <see cref="NabDetector"/> per corpus file with NAB's conventions (the file's own min/max padded
/// by 20 %, probation min(15 %, 750), NuPIC's streaming likelihood and log score, the spatial rule), files in
/// parallel, then scores the results with <see cref="NabScorer"/> (thresholds optimised on these files).
/// </summary>
public static class NabCorpusRunner
{
    /// <summary>Runs the corpus and scores it.</summary>
    /// <param name="options">What to run.</param>
    /// <param name="progress">Receives a snapshot whenever a file finishes and about once a second meanwhile; may be null.</param>
    /// <param name="cancellationToken">Stops the run between records.</param>
    /// <exception cref="NabDataException">A data, label or file-list problem, naming the file and line.</exception>
    public static NabRunResult Run(NabRunOptions options, Action<NabRunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Jobs < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Jobs, "Jobs must be at least 1.");
        }

        // Validate the parameter set and detector options before spending time on the data.
        _ = ModelParameters.Create(options.ParameterSet, 0, 1, options.TemporalMemory);
        ArgumentNullException.ThrowIfNull(options.Detection);
        options.Detection.Validate();
        if (options.FileRunner is not null && options.ReplayDirectory is not null)
        {
            throw new ArgumentException("A file runner and a replay directory cannot be combined.", nameof(options));
        }

        NabCorpus corpus = NabCorpus.Load(options.DataDirectory, options.LabelsPath, options.Files, options.FilesSource);
        IReadOnlyList<NabLabeledFile> files = corpus.Files;
        long totalRecords = 0;
        foreach (NabLabeledFile file in files)
        {
            totalRecords += file.RowCount;
        }

        var scores = new double[files.Count][];
        var rawScores = new double[files.Count][];
        var seconds = new double[files.Count];
        var tracker = new ProgressTracker(files.Count, totalRecords, progress);

        // Longest files first so the last worker is not left alone with the biggest file.
        int[] order = new int[files.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => files[b].RowCount.CompareTo(files[a].RowCount));
        if (options.ReplayDirectory is { } replayDirectory)
        {
            // Fail before any work, naming the first missing file (inside the parallel loop it would arrive wrapped).
            string replayDetector = Path.GetFileName(Path.TrimEndingDirectorySeparator(replayDirectory));
            foreach (NabLabeledFile file in files)
            {
                string path = NabCorpus.ResultPath(replayDirectory, replayDetector, file.Name);
                if (!File.Exists(path))
                {
                    throw new NabMissingFileException(path, $"no raw scores to replay for '{file.Name}'");
                }
            }
        }

        var clock = Stopwatch.StartNew();
        using (var ticker = new Timer(static state => ((ProgressTracker)state!).Report(), tracker, 1000, 1000))
        {
            try
            {
                Parallel.ForEach(
                    Partitioner.Create(order, EnumerablePartitionerOptions.NoBuffering),
                    new ParallelOptions { MaxDegreeOfParallelism = options.Jobs, CancellationToken = cancellationToken },
                    index =>
                    {
                        var fileClock = Stopwatch.StartNew();
                        (scores[index], rawScores[index]) = RunFile(files[index], options, tracker, cancellationToken);
                        seconds[index] = fileClock.Elapsed.TotalSeconds;
                        tracker.FileDone();
                    });
            }
            catch (AggregateException e) when (e.InnerExceptions.OfType<NabDataException>().FirstOrDefault() is { } data)
            {
                // A file's data problem (a file runner's, e.g. rows the engine refused) surfaces as itself, naming the file.
                ExceptionDispatchInfo.Capture(data).Throw();
            }
        }

        TimeSpan detectTime = clock.Elapsed;
        if (options.OutputDirectory is not null)
        {
            for (int i = 0; i < files.Count; i++)
            {
                string path = NabCorpus.ResultPath(Path.Combine(options.OutputDirectory, options.Detector), options.Detector, files[i].Name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                NabResultWriter.WriteFile(path, files[i], scores[i], rawScores[i]);
            }
        }

        NabScorer scorer = corpus.CreateScorer();
        NabDetectorScore score = scorer.Score(options.Detector, scores);
        if (options.OutputDirectory is not null)
        {
            // Beside the detector's folder, not in it: NAB's scorer takes every CSV under results/<detector>/ for a result file.
            using var table = new StreamWriter(ScoreTablePath(options.OutputDirectory, options.Detector));
            NabScoreCommand.WriteScoreTable(table, score, scorer, scores);
        }

        return new NabRunResult(score, scorer, totalRecords, detectTime, clock.Elapsed - detectTime, seconds, rawScores);
    }

    /// <summary>Where a run with <c>--out</c> writes its per-file score table: <c>OUT/&lt;detector&gt;-scores.csv</c>.</summary>
    public static string ScoreTablePath(string outputDirectory, string detector) => Path.Combine(outputDirectory, detector + "-scores.csv");

    /// <summary>Runs one file through a fresh detector and returns its final and raw scores per row.</summary>
    public static (double[] Scores, double[] RawScores) RunFile(NabLabeledFile file, NabRunOptions options, CancellationToken cancellationToken = default) =>
        RunFile(file, options, tracker: null, cancellationToken);

    private static (double[] Scores, double[] RawScores) RunFile(NabLabeledFile file, NabRunOptions options, ProgressTracker? tracker, CancellationToken cancellationToken)
    {
        NabSeries series = file.Series ?? throw new InvalidOperationException($"The corpus was loaded without the series of {file.Name}.");
        if (options.FileRunner is { } fileRunner)
        {
            (double[] Scores, double[] RawScores) result = fileRunner(file, count => tracker?.Records(count), cancellationToken);
            if (result.Scores.Length != series.Length || result.RawScores.Length != series.Length)
            {
                throw new NabDataException(file.Name, null, $"the file runner returned {result.Scores.Length} scores and {result.RawScores.Length} raw scores for {series.Length} rows");
            }

            return result;
        }

        (double paddedMin, double paddedMax) = PaddedRange(series);
        ModelParameters parameters = ModelParameters.Create(options.ParameterSet, paddedMin, paddedMax, options.TemporalMemory);
        int probation = NabAnomalyLikelihood.NabProbationaryPeriod(series.Length);
        double[]? replay = null;
        NabDetector detector;
        if (options.ReplayDirectory is { } replayDirectory)
        {
            string replayDetector = Path.GetFileName(Path.TrimEndingDirectorySeparator(replayDirectory));
            string path = NabCorpus.ResultPath(replayDirectory, replayDetector, file.Name);
            replay = NabCsv.ReadScoreColumn(path, "raw_score", series.Length, file.Name);

            // Raw scores are float32 values (NuPIC's region output); the file holds them to 12 digits, which
            // round-trips a float32, so rounding back gives the very score the model produced.
            for (int i = 0; i < replay.Length; i++)
            {
                replay[i] = (float)replay[i];
            }

            detector = NabDetector.WithoutModel(probation, options.Detection);
        }
        else
        {
            detector = new NabDetector(parameters, probation, options.Detection);
        }

        var scores = new double[series.Length];
        var raw = new double[series.Length];
        int pending = 0;
        for (int i = 0; i < series.Length; i++)
        {
            DetectorScore s = replay is null
                ? detector.Step(series.Timestamps[i], series.Values[i])
                : detector.StepRaw(series.Timestamps[i], series.Values[i], replay[i]);
            scores[i] = s.Score;
            raw[i] = s.RawScore;
            if (++pending == 256)
            {
                cancellationToken.ThrowIfCancellationRequested();
                tracker?.Records(pending);
                pending = 0;
            }
        }

        tracker?.Records(pending);
        return (scores, raw);
    }

    /// <summary>NAB's value range for a file's model: the file's own min and max, padded by 20 % (<see cref="ModelParameters.PadObservedRange"/>).</summary>
    /// <param name="series">The file's rows.</param>
    /// <returns>The padded range.</returns>
    public static (double Min, double Max) PaddedRange(NabSeries series)
    {
        ArgumentNullException.ThrowIfNull(series);
        double min = double.PositiveInfinity;
        double max = double.NegativeInfinity;
        foreach (double v in series.Values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return ModelParameters.PadObservedRange(min, max);
    }

    private sealed class ProgressTracker(int totalFiles, long totalRecords, Action<NabRunProgress>? sink)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _records;
        private int _files;

        public void Records(int count) => Interlocked.Add(ref _records, count);

        public void FileDone()
        {
            Interlocked.Increment(ref _files);
            Report();
        }

        public void Report()
        {
            if (sink is null)
            {
                return;
            }

            lock (this)
            {
                sink(new NabRunProgress(Volatile.Read(ref _files), totalFiles, Interlocked.Read(ref _records), totalRecords, _clock.Elapsed));
            }
        }
    }
}

/// <summary>A snapshot of a corpus run's progress.</summary>
/// <param name="FilesDone">Files finished.</param>
/// <param name="FilesTotal">Files in the run.</param>
/// <param name="RecordsDone">Records scored so far.</param>
/// <param name="RecordsTotal">Records in the run.</param>
/// <param name="Elapsed">Time since the run started.</param>
public readonly record struct NabRunProgress(int FilesDone, int FilesTotal, long RecordsDone, long RecordsTotal, TimeSpan Elapsed)
{
    /// <summary>Records per second so far.</summary>
    public double RecordsPerSecond => Elapsed.TotalSeconds > 0 ? RecordsDone / Elapsed.TotalSeconds : 0;

    /// <summary>Estimated time left at the current rate, or null before any record finished.</summary>
    public TimeSpan? Remaining => RecordsDone > 0 ? TimeSpan.FromSeconds((RecordsTotal - RecordsDone) / RecordsPerSecond) : null;
}

/// <summary>The outcome of a corpus run.</summary>
/// <param name="Score">NAB scores on every profile, with the per-file tables.</param>
/// <param name="Scorer">The scorer (files, windows) the scores came from.</param>
/// <param name="Records">Records run.</param>
/// <param name="DetectTime">Wall time of the detection phase.</param>
/// <param name="ScoreTime">Wall time of writing and scoring.</param>
/// <param name="FileSeconds">Detection time per file, in corpus order.</param>
/// <param name="RawScores">Raw TM anomaly per file and row, in corpus order.</param>
public sealed record NabRunResult(
    NabDetectorScore Score,
    NabScorer Scorer,
    long Records,
    TimeSpan DetectTime,
    TimeSpan ScoreTime,
    IReadOnlyList<double> FileSeconds,
    IReadOnlyList<double[]> RawScores);
