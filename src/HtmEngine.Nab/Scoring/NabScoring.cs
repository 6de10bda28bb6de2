namespace HtmEngine.Nab.Scoring;

/// <summary>
/// One entry of NAB's threshold sweep: the score and row counts when every scorable row with
/// <c>anomaly_score &gt;= Threshold</c> is a detection.
/// </summary>
/// <param name="Threshold">The threshold (1.1 for the initial "nothing detected" entry).</param>
/// <param name="Score">The weighted score: FP sum plus one contribution per window.</param>
/// <param name="TruePositives">Detected rows inside windows.</param>
/// <param name="TrueNegatives">Undetected rows outside windows.</param>
/// <param name="FalsePositives">Detected rows outside windows.</param>
/// <param name="FalseNegatives">Undetected rows inside windows.</param>
/// <param name="Total">Scorable (non-probationary) rows.</param>
public readonly record struct ThresholdScore(
    double Threshold, double Score, int TruePositives, int TrueNegatives, int FalsePositives, int FalseNegatives, int Total);

/// <summary>NAB's scoring arithmetic for single files, evaluated in NAB's order of operations.</summary>
public static class NabScoring
{
    /// <summary>Row label of a row outside every window (see <see cref="RowWindows"/>).</summary>
    public const int Outside = -1;

    /// <summary>Row label of a probationary row (see <see cref="RowWindows"/>).</summary>
    public const int Probationary = -2;

    /// <summary>The threshold of NAB's first sweep entry, above every anomaly score.</summary>
    public const double InitialThreshold = 1.1;

    /// <summary><c>scaledSigmoid(-1)</c>, the unnormalised weight of a detection at a window's left edge.</summary>
    public static readonly double MaxTp = ScaledSigmoid(-1.0);

    /// <summary>NAB's scaled sigmoid: −1 for <c>y &gt; 3</c>, else <c>2·sigmoid(−5y) − 1</c>.</summary>
    /// <param name="y">The relative position.</param>
    /// <returns>A value in [−1, 1].</returns>
    public static double ScaledSigmoid(double y)
    {
        if (y > 3.0)
        {
            return -1.0;
        }

        double z = -5.0 * y;
        double s = 1.0 / (1.0 + Math.Exp(-z));
        return (2.0 * s) - 1.0;
    }

    /// <summary>NAB's probationary length: <c>min(floor(0.15·n), 0.15·5000)</c> rows.</summary>
    /// <param name="rowCount">The file's row count n.</param>
    /// <returns>The number of leading rows excluded from scoring.</returns>
    public static int ProbationaryLength(int rowCount) => (int)Math.Min(Math.Floor(0.15 * rowCount), 0.15 * 5000);

    /// <summary>
    /// The label of every row: the index of its window, <see cref="Outside"/>, or <see cref="Probationary"/>
    /// (probationary rows are labelled so whether or not they lie in a window).
    /// </summary>
    /// <param name="file">The labelled file.</param>
    /// <returns>One label per row.</returns>
    public static int[] RowWindows(NabLabeledFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        int[] labels = new int[file.RowCount];
        labels.AsSpan().Fill(Outside);
        for (int k = 0; k < file.Windows.Count; k++)
        {
            labels.AsSpan(file.Windows[k].Start, file.Windows[k].Width).Fill(k);
        }

        labels.AsSpan(0, Math.Min(file.ProbationaryLength, file.RowCount)).Fill(Probationary);
        return labels;
    }

    /// <summary>
    /// NAB's per-row weighted score (<c>calcSweepScore</c>) for every row, probationary rows included:
    /// inside a window <c>scaledSigmoid(−(e−i+1)/w)·A_TP/maxTP</c>; before any window <c>−A_FP</c>;
    /// after a window <c>scaledSigmoid(|e'−i|/(w'−1))·A_FP</c> measured from the last window left.
    /// </summary>
    /// <param name="file">The labelled file.</param>
    /// <param name="profile">The cost profile.</param>
    /// <returns>One weight per row.</returns>
    public static double[] RowWeights(NabLabeledFile file, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(file);
        double[] weights = new double[file.RowCount];
        FillRowWeights(file, profile, weights);
        return weights;
    }

    /// <summary>Writes the per-row weights of <see cref="RowWeights"/> into a caller-owned span.</summary>
    /// <param name="file">The labelled file.</param>
    /// <param name="profile">The cost profile.</param>
    /// <param name="weights">Destination, at least <see cref="NabLabeledFile.RowCount"/> long.</param>
    public static void FillRowWeights(NabLabeledFile file, NabProfile profile, Span<double> weights)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(profile);
        IReadOnlyList<NabWindow> windows = file.Windows;
        int next = 0;
        int current = -1;
        int previousEnd = -1;
        double previousWidth = 0.0;
        double maxTp = MaxTp;
        for (int i = 0; i < file.RowCount; i++)
        {
            if (next < windows.Count && i == windows[next].Start)
            {
                current = next;
                next++;
            }

            double weighted;
            if (current >= 0)
            {
                NabWindow w = windows[current];
                double width = w.End - w.Start + 1;
                double position = -(w.End - i + 1) / width;
                weighted = ScaledSigmoid(position) * profile.TpWeight / maxTp;
            }
            else if (previousEnd < 0)
            {
                weighted = -1.0 * profile.FpWeight;
            }
            else
            {
                double position = Math.Abs(previousEnd - i) / (previousWidth - 1);
                weighted = ScaledSigmoid(position) * profile.FpWeight;
            }

            weights[i] = weighted;
            if (current >= 0 && i == windows[current].End)
            {
                previousEnd = i;
                previousWidth = windows[current].End - windows[current].Start + 1;
                current = -1;
            }
        }
    }

    /// <summary>NAB's full threshold sweep (<c>calcScoreByThreshold</c>) over one file's scorable rows.</summary>
    /// <param name="file">The labelled file.</param>
    /// <param name="anomalyScores">One detector score per row.</param>
    /// <param name="profile">The cost profile.</param>
    /// <returns>The sweep entries, the first at threshold 1.1, thresholds strictly decreasing.</returns>
    public static IReadOnlyList<ThresholdScore> Sweep(NabLabeledFile file, ReadOnlySpan<double> anomalyScores, NabProfile profile)
    {
        var scorer = new NabScorer([file], [profile]);
        return scorer.CorpusSweep([anomalyScores.ToArray()], profile.Name);
    }

    /// <summary>
    /// One file's sweep entry at a fixed threshold, selected from its sweep exactly as NAB's score step does.
    /// </summary>
    /// <param name="file">The labelled file.</param>
    /// <param name="anomalyScores">One detector score per row.</param>
    /// <param name="profile">The cost profile.</param>
    /// <param name="threshold">The threshold, at most 1.1.</param>
    /// <returns>The sweep entry NAB reports for that threshold (rows with score ≥ threshold detected).</returns>
    public static ThresholdScore ScoreAt(NabLabeledFile file, ReadOnlySpan<double> anomalyScores, NabProfile profile, double threshold)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var scorer = new NabScorer([file], [profile]);
        return scorer.ScoreFileAt(0, anomalyScores.ToArray(), profile.Name, threshold);
    }
}
