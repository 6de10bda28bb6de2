namespace HtmEngine.Nab.Scoring;

/// <summary>
/// Scores detectors on a fixed set of labelled files exactly as NAB v1.1 does: per-row weights,
/// the corpus-wide threshold optimiser, per-file scoring at a threshold, and normalisation against
/// the null detector and the perfect detector. Files are taken in the order given (NAB sums in
/// results-directory order; the order only moves the last bits of the totals).
/// </summary>
/// <remarks>
/// Everything that depends only on the labels (row labels and per-row weights of every profile) is
/// computed once in the constructor; scoring a detector sorts its scorable rows once and reuses the
/// order for every profile. Instances are immutable and may be shared between threads.
/// </remarks>
public sealed class NabScorer
{
    private const double NullScore = 0.5;

    private readonly NabLabeledFile[] _files;
    private readonly NabProfile[] _profiles;
    private readonly int[] _fileOffset;
    private readonly int[] _windowOffset;
    private readonly int[] _rowWindow;
    private readonly double[][] _rowWeight;
    private readonly int _windowCount;
    private readonly int _scorableCount;
    private readonly Lock _nullLock = new();
    private readonly Dictionary<(int Profile, double Threshold), (double Threshold, double Score)> _nullCache = [];
    private Prepared? _nullPrepared;

    /// <summary>Prepares scoring on <paramref name="files"/> with the given profiles (NAB's three by default).</summary>
    /// <param name="files">The labelled files, in the order totals are summed.</param>
    /// <param name="profiles">The profiles; names must be distinct.</param>
    public NabScorer(IReadOnlyList<NabLabeledFile> files, IReadOnlyList<NabProfile>? profiles = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        _files = [.. files];
        _profiles = [.. profiles ?? NabProfile.Defaults];
        if (_profiles.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count() != _profiles.Length)
        {
            throw new ArgumentException("profile names must be distinct", nameof(profiles));
        }

        _fileOffset = new int[_files.Length + 1];
        _windowOffset = new int[_files.Length + 1];
        for (int f = 0; f < _files.Length; f++)
        {
            NabLabeledFile file = _files[f];
            _fileOffset[f + 1] = _fileOffset[f] + Math.Max(0, file.RowCount - file.ProbationaryLength);
            _windowOffset[f + 1] = _windowOffset[f] + file.Windows.Count;
        }

        _scorableCount = _fileOffset[^1];
        _windowCount = _windowOffset[^1];
        _rowWindow = new int[_scorableCount];
        _rowWeight = new double[_profiles.Length][];
        for (int p = 0; p < _profiles.Length; p++)
        {
            _rowWeight[p] = new double[_scorableCount];
        }

        double[] scratch = new double[_files.Length == 0 ? 0 : _files.Max(f => f.RowCount)];
        for (int f = 0; f < _files.Length; f++)
        {
            NabLabeledFile file = _files[f];
            int first = file.ProbationaryLength;
            int count = _fileOffset[f + 1] - _fileOffset[f];
            int[] labels = NabScoring.RowWindows(file);
            for (int j = 0; j < count; j++)
            {
                int label = labels[first + j];
                _rowWindow[_fileOffset[f] + j] = label >= 0 ? _windowOffset[f] + label : NabScoring.Outside;
            }

            for (int p = 0; p < _profiles.Length; p++)
            {
                NabScoring.FillRowWeights(file, _profiles[p], scratch);
                scratch.AsSpan(first, count).CopyTo(_rowWeight[p].AsSpan(_fileOffset[f], count));
            }
        }
    }

    /// <summary>The files, in scoring order.</summary>
    public IReadOnlyList<NabLabeledFile> Files => _files;

    /// <summary>The profiles, in reporting order.</summary>
    public IReadOnlyList<NabProfile> Profiles => _profiles;

    /// <summary>The number of labelled windows over all files (the perfect detector's TP count).</summary>
    public int WindowCount => _windowCount;

    /// <summary>The number of rows over all files.</summary>
    public long RowCount => _files.Sum(f => (long)f.RowCount);

    /// <summary>The number of scorable (non-probationary) rows over all files.</summary>
    public int ScorableRowCount => _scorableCount;

    /// <summary>
    /// Scores one detector on every profile and normalises the result.
    /// </summary>
    /// <param name="detector">The detector's name (used in reports only).</param>
    /// <param name="anomalyScores">One array per file (in <see cref="Files"/> order), one finite score per row.</param>
    /// <param name="thresholds">A threshold per profile name (NAB's <c>--score</c> with a thresholds file), or <see langword="null"/> to optimise each profile's threshold on these files (NAB's <c>--optimize</c>).</param>
    /// <param name="nullThresholds">The null detector's threshold per profile, or <see langword="null"/> to optimise them as NAB does when it re-scores null.</param>
    /// <returns>Per-profile thresholds, raw and normalised scores, and the per-file table.</returns>
    /// <remarks>
    /// Each file's score at a threshold T is the entry NAB's score step picks from that file's own
    /// sweep (rows with score ≥ T detected). Where NAB crashes, because T lies below every scorable
    /// score of a file, the file is scored with every row detected, which is the same rule.
    /// </remarks>
    /// <exception cref="ArgumentException">The score arrays do not match the files, a score is not finite, a profile has no threshold, or a threshold is above 1.1.</exception>
    public NabDetectorScore Score(
        string detector,
        IReadOnlyList<double[]> anomalyScores,
        IReadOnlyDictionary<string, double>? thresholds = null,
        IReadOnlyDictionary<string, double>? nullThresholds = null)
    {
        ArgumentNullException.ThrowIfNull(detector);
        Prepared prepared = Prepare(anomalyScores);
        var profiles = new NabProfileScore[_profiles.Length];
        for (int p = 0; p < _profiles.Length; p++)
        {
            NabProfile profile = _profiles[p];
            double threshold;
            double? optimizerScore = null;
            if (thresholds is null)
            {
                ThresholdScore best = Run(prepared, prepared.Order, p, SweepMode.Best, double.NaN, null);
                threshold = best.Threshold;
                optimizerScore = best.Score;
            }
            else
            {
                threshold = RequireThreshold(thresholds, profile.Name, nameof(thresholds));
            }

            var files = new NabFileScore[_files.Length];
            double total = 0.0;
            for (int f = 0; f < _files.Length; f++)
            {
                ThresholdScore entry = Run(prepared, prepared.FileOrder(f), p, SweepMode.AtThreshold, threshold, null);
                files[f] = new NabFileScore(
                    _files[f].Name, threshold, entry.Score, entry.TruePositives, entry.TrueNegatives, entry.FalsePositives, entry.FalseNegatives, entry.Total);
                total += entry.Score;
            }

            double? fixedNull = nullThresholds is null ? null : RequireThreshold(nullThresholds, profile.Name, nameof(nullThresholds));
            (double nullThreshold, double baseline) = NullBaseline(p, fixedNull);
            double perfect = profile.TpWeight * _windowCount;
            double normalized = 100 * (total - baseline) / (perfect - baseline);
            profiles[p] = new NabProfileScore(profile, threshold, optimizerScore, total, nullThreshold, baseline, perfect, normalized, files);
        }

        return new NabDetectorScore(detector, profiles);
    }

    /// <summary>
    /// NAB's optimiser sweep over all files concatenated (in <see cref="Files"/> order): one entry per
    /// distinct scorable anomaly score, preceded by the "nothing detected" entry at 1.1.
    /// </summary>
    /// <param name="anomalyScores">One array per file, one score per row.</param>
    /// <param name="profileName">The profile.</param>
    /// <returns>The sweep entries in decreasing threshold order.</returns>
    public IReadOnlyList<ThresholdScore> CorpusSweep(IReadOnlyList<double[]> anomalyScores, string profileName)
    {
        Prepared prepared = Prepare(anomalyScores);
        var entries = new List<ThresholdScore>();
        Run(prepared, prepared.Order, ProfileIndex(profileName), SweepMode.Collect, double.NaN, entries);
        return entries;
    }

    /// <summary>
    /// The sweep of one file alone (what NAB's score step computes before picking the threshold's entry).
    /// </summary>
    /// <param name="fileIndex">The file's index in <see cref="Files"/>.</param>
    /// <param name="anomalyScores">The file's scores, one per row.</param>
    /// <param name="profileName">The profile.</param>
    /// <returns>The sweep entries in decreasing threshold order.</returns>
    public IReadOnlyList<ThresholdScore> FileSweep(int fileIndex, double[] anomalyScores, string profileName)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fileIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fileIndex, _files.Length);
        Prepared prepared = Prepare([anomalyScores], fileIndex);
        var entries = new List<ThresholdScore>();
        Run(prepared, prepared.FileOrder(fileIndex), ProfileIndex(profileName), SweepMode.Collect, double.NaN, entries);
        return entries;
    }

    /// <summary>The optimiser's choice: the first entry of <see cref="CorpusSweep"/> with the highest score (ties go to the higher threshold).</summary>
    /// <param name="anomalyScores">One array per file, one score per row.</param>
    /// <param name="profileName">The profile.</param>
    /// <returns>The best sweep entry.</returns>
    public ThresholdScore Optimize(IReadOnlyList<double[]> anomalyScores, string profileName)
    {
        Prepared prepared = Prepare(anomalyScores);
        return Run(prepared, prepared.Order, ProfileIndex(profileName), SweepMode.Best, double.NaN, null);
    }

    /// <summary>One file's sweep entry at a threshold, picked as NAB's score step picks it.</summary>
    /// <param name="fileIndex">The file's index in <see cref="Files"/>.</param>
    /// <param name="anomalyScores">The file's scores, one per row.</param>
    /// <param name="profileName">The profile.</param>
    /// <param name="threshold">The threshold, at most 1.1.</param>
    /// <returns>The entry: the one at <paramref name="threshold"/>, else the last one above it (rows with score ≥ threshold detected).</returns>
    public ThresholdScore ScoreFileAt(int fileIndex, double[] anomalyScores, string profileName, double threshold)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fileIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fileIndex, _files.Length);
        CheckThreshold(threshold, nameof(threshold));
        Prepared prepared = Prepare([anomalyScores], fileIndex);
        return Run(prepared, prepared.FileOrder(fileIndex), ProfileIndex(profileName), SweepMode.AtThreshold, threshold, null);
    }

    private (double Threshold, double Score) NullBaseline(int p, double? fixedThreshold)
    {
        lock (_nullLock)
        {
            var key = (p, fixedThreshold ?? double.NaN);
            if (_nullCache.TryGetValue(key, out var cached))
            {
                return cached;
            }

            if (_nullPrepared is null)
            {
                var scores = new double[_files.Length][];
                for (int f = 0; f < _files.Length; f++)
                {
                    scores[f] = new double[_files[f].RowCount];
                    scores[f].AsSpan().Fill(NullScore);
                }

                _nullPrepared = Prepare(scores);
            }

            double threshold = fixedThreshold ?? Run(_nullPrepared, _nullPrepared.Order, p, SweepMode.Best, double.NaN, null).Threshold;
            double total = 0.0;
            for (int f = 0; f < _files.Length; f++)
            {
                total += Run(_nullPrepared, _nullPrepared.FileOrder(f), p, SweepMode.AtThreshold, threshold, null).Score;
            }

            _nullCache[key] = (threshold, total);
            return (threshold, total);
        }
    }

    private static double RequireThreshold(IReadOnlyDictionary<string, double> thresholds, string profile, string parameter)
    {
        if (!thresholds.TryGetValue(profile, out double threshold))
        {
            throw new ArgumentException($"no threshold for profile '{profile}'", parameter);
        }

        CheckThreshold(threshold, parameter);
        return threshold;
    }

    private static void CheckThreshold(double threshold, string parameter)
    {
        if (!(threshold <= NabScoring.InitialThreshold))
        {
            throw new ArgumentException($"threshold {threshold} is above 1.1 or not a number; NAB cannot score it", parameter);
        }
    }

    private int ProfileIndex(string profileName)
    {
        int index = Array.FindIndex(_profiles, p => p.Name == profileName);
        return index >= 0 ? index : throw new ArgumentException($"unknown profile '{profileName}'", nameof(profileName));
    }

    /// <summary>
    /// Copies the scorable scores into one array and sorts them as NAB does. With
    /// <paramref name="onlyFile"/> set, <paramref name="anomalyScores"/> holds that one file's scores
    /// and only its rows are prepared.
    /// </summary>
    private Prepared Prepare(IReadOnlyList<double[]> anomalyScores, int onlyFile = -1)
    {
        ArgumentNullException.ThrowIfNull(anomalyScores);
        int expected = onlyFile >= 0 ? 1 : _files.Length;
        if (anomalyScores.Count != expected)
        {
            throw new ArgumentException($"expected {expected} score arrays (one per file), got {anomalyScores.Count}", nameof(anomalyScores));
        }

        int firstFile = onlyFile >= 0 ? onlyFile : 0;
        int lastFile = onlyFile >= 0 ? onlyFile : _files.Length - 1;
        int begin = _fileOffset[firstFile];
        int count = _fileOffset[lastFile + 1] - begin;
        double[] score = new double[_scorableCount];
        for (int f = firstFile; f <= lastFile; f++)
        {
            double[] scores = anomalyScores[f - firstFile] ?? throw new ArgumentException($"no scores for '{_files[f].Name}'", nameof(anomalyScores));
            if (scores.Length != _files[f].RowCount)
            {
                throw new ArgumentException($"'{_files[f].Name}' has {_files[f].RowCount} rows but {scores.Length} scores", nameof(anomalyScores));
            }

            int first = _files[f].ProbationaryLength;
            for (int i = first; i < scores.Length; i++)
            {
                double s = scores[i];
                if (!double.IsFinite(s))
                {
                    throw new ArgumentException($"'{_files[f].Name}' row {i}: anomaly score {s} is not finite", nameof(anomalyScores));
                }

                score[_fileOffset[f] + (i - first)] = s;
            }
        }

        int[] order = new int[count];
        for (int k = 0; k < count; k++)
        {
            order[k] = begin + k;
        }

        SortDescendingStable(score, order);

        // The same order restricted to each file (still stable) for the per-file score step.
        int[] byFile = new int[_scorableCount];
        int[] cursor = (int[])_fileOffset.Clone();
        int[] fileOfRow = new int[_scorableCount];
        for (int f = firstFile; f <= lastFile; f++)
        {
            fileOfRow.AsSpan(_fileOffset[f], _fileOffset[f + 1] - _fileOffset[f]).Fill(f);
        }

        foreach (int g in order)
        {
            byFile[cursor[fileOfRow[g]]++] = g;
        }

        return new Prepared(score, order, byFile, _fileOffset);
    }

    /// <summary>Sorts row indices by score, descending, ties in index order (NAB's stable reverse sort).</summary>
    private static void SortDescendingStable(double[] score, int[] order)
    {
        double[] keys = new double[order.Length];
        bool allEqual = true;
        for (int k = 0; k < order.Length; k++)
        {
            keys[k] = -score[order[k]];
            allEqual &= keys[k] == keys[0];
        }

        if (allEqual)
        {
            return;
        }

        Array.Sort(keys, order);
        int runStart = 0;
        for (int k = 1; k <= keys.Length; k++)
        {
            if (k == keys.Length || keys[k] != keys[runStart])
            {
                if (k - runStart > 1)
                {
                    Array.Sort(order, runStart, k - runStart);
                }

                runStart = k;
            }
        }
    }

    private ThresholdScore Run(Prepared prepared, ReadOnlySpan<int> order, int p, SweepMode mode, double threshold, List<ThresholdScore>? collect)
    {
        double[] score = prepared.Score;
        double[] weight = _rowWeight[p];
        double fnWeight = _profiles[p].FnWeight;

        // Score parts: "fp" first, then one per window in order of first appearance in the sorted rows.
        double[] parts = new double[_windowCount];
        bool[] seen = new bool[_windowCount];
        var keyOrder = new List<int>();
        int inWindows = 0;
        int outside = 0;
        foreach (int g in order)
        {
            int w = _rowWindow[g];
            if (w >= 0)
            {
                inWindows++;
                if (!seen[w])
                {
                    seen[w] = true;
                    keyOrder.Add(w);
                    parts[w] = -fnWeight;
                }
            }
            else
            {
                outside++;
            }
        }

        int tp = 0;
        int fp = 0;
        int tn = outside;
        int fn = inWindows;
        double fpSum = 0.0;
        double current = NabScoring.InitialThreshold;
        bool haveResult = false;
        ThresholdScore result = default;
        bool havePrevious = false;
        ThresholdScore previous = default;

        foreach (int g in order)
        {
            double s = score[g];
            if (s != current)
            {
                if (Emit(new ThresholdScore(current, Sum(), tp, tn, fp, fn, tp + tn + fp + fn)))
                {
                    return result;
                }

                current = s;
            }

            int w = _rowWindow[g];
            if (w >= 0)
            {
                tp++;
                fn--;
                double x = weight[g];
                if (x > parts[w])
                {
                    parts[w] = x;
                }
            }
            else
            {
                fp++;
                tn--;
                fpSum += weight[g];
            }
        }

        if (Emit(new ThresholdScore(current, Sum(), tp, tn, fp, fn, tp + tn + fp + fn)))
        {
            return result;
        }

        // Only AtThreshold gets here without a result: the threshold is below every score of this
        // file (NAB crashes there); every row is then detected, which is the last entry.
        return mode == SweepMode.AtThreshold ? previous : result;

        double Sum()
        {
            double sum = 0.0;
            sum += fpSum;
            foreach (int k in keyOrder)
            {
                sum += parts[k];
            }

            return sum;
        }

        bool Emit(ThresholdScore entry)
        {
            switch (mode)
            {
                case SweepMode.Collect:
                    collect!.Add(entry);
                    return false;
                case SweepMode.Best:
                    if (!haveResult || entry.Score > result.Score)
                    {
                        result = entry;
                        haveResult = true;
                    }

                    return false;
                default:
                    if (entry.Threshold == threshold)
                    {
                        result = entry;
                        return true;
                    }

                    if (entry.Threshold < threshold)
                    {
                        if (!havePrevious)
                        {
                            throw new ArgumentException($"threshold {threshold} lies above the first sweep entry {entry.Threshold}", nameof(threshold));
                        }

                        result = previous;
                        return true;
                    }

                    previous = entry;
                    havePrevious = true;
                    return false;
            }
        }
    }

    private enum SweepMode
    {
        Collect,
        Best,
        AtThreshold,
    }

    private sealed class Prepared(double[] score, int[] order, int[] byFile, int[] fileOffset)
    {
        public double[] Score { get; } = score;

        public int[] Order { get; } = order;

        public ReadOnlySpan<int> FileOrder(int f) => byFile.AsSpan(fileOffset[f], fileOffset[f + 1] - fileOffset[f]);
    }
}
