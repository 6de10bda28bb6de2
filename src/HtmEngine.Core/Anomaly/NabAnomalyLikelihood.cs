using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Core.Anomaly;

/// <summary>How <see cref="NabAnomalyLikelihood"/> treats an averaged score below the fitted mean.</summary>
public enum BelowMeanTail
{
    /// <summary>
    /// P(x) = 1 − Q(2·mean − x): a score below the mean is never anomalous (likelihood below 0.5). This is what
    /// produced NAB's published <c>results/numenta</c> files (NuPIC 0.5.x); replaying their raw scores through it
    /// reproduces every published final score. The default.
    /// </summary>
    Complement = 0,

    /// <summary>
    /// P(x) = Q(2·mean − x), as in nupic 1.0's <c>tailProbability</c> (htm-algorithm.md §2.8): a score far below
    /// the mean gets a likelihood as high as one equally far above it.
    /// </summary>
    Mirror = 1,
}

/// <summary>
/// NuPIC's streaming <c>AnomalyLikelihood</c> exactly as NAB's "numenta" detector runs it (htm-algorithm.md §1.9,
/// §2.8): exactly 0.5 during the probationary period, then the Gaussian tail probability of the 10-point moving
/// average of the raw score under a normal fitted to the recent history, re-fitted every
/// <c>reestimationPeriod</c> records, with the red→yellow filter.
/// </summary>
/// <remarks>
/// <para>Arithmetic follows the Python/numpy original operation for operation: the moving average keeps a running
/// total (subtract the evicted score, then add the new one), mean and population variance use numpy's pairwise
/// summation (<see cref="NumpyReductions"/>), the Q-function is <c>0.5·erfc(z / 1.4142)</c> with
/// <see cref="ErrorFunction.Erfc"/>, and the filter compares with the previous <em>unfiltered</em> likelihood.</para>
/// <para>Cost: O(1) and allocation-free per record; every <c>reestimationPeriod</c> records a re-fit makes four
/// linear passes over at most <c>historicWindowSize</c> contiguous doubles. The history is a mirrored ring buffer
/// (each value stored at i and i + W) so the window is always one contiguous span.</para>
/// <para>Below the mean the two NuPIC generations differ (<see cref="BelowMeanTail"/>); the default reproduces
/// NAB's published NuPIC results exactly (every row of the 40 development files, to the 12 digits printed).</para>
/// <para>Timestamps are accepted for API parity but do not influence the result (the original only carried them
/// along), so they are not stored.</para>
/// </remarks>
public sealed class NabAnomalyLikelihood
{
    /// <summary>A tail probability at or below this is "red" (1 − 0.99999, computed in float64 as the original does).</summary>
    public const double RedThreshold = 1.0 - 0.99999;

    /// <summary>What a red value right after a red value is clipped to (1 − 0.999 in float64).</summary>
    public const double YellowThreshold = 1.0 - 0.999;

    /// <summary>NuPIC's precomputed ln(1 − 0.9999999999), the log score's denominator.</summary>
    public const double LogScoreDenominator = -23.02585084720009;

    private const double NullMean = 0.5;
    private const double NullVariance = 1e6;
    private const double NullStdev = 1e3;
    private const double MinMean = 0.03;
    private const double MinVariance = 0.0003;
    private const double FlatMetricVariance = 1.5e-5;
    private const double QFunctionSqrt2 = 1.4142;

    private readonly int _learningPeriod;
    private readonly int _estimationSamples;
    private readonly int _windowSize;
    private readonly int _reestimationPeriod;
    private readonly int _averagingWindow;
    private readonly long _probationaryPeriod;
    private readonly BelowMeanTail _belowMean;

    // History of (value, raw score), mirrored: element k of the window lives at [_historyStart + k] (and at that
    // index ± W), so [_historyStart, _historyStart + _historyCount) is always contiguous.
    private readonly double[] _historyValues;
    private readonly double[] _historyScores;
    private int _historyStart;
    private int _historyCount;

    // Moving average of the raw score: ring of the last ≤ averagingWindow scores, oldest at _averageHead.
    private readonly double[] _averageWindow;
    private int _averageHead;
    private int _averageCount;
    private double _averageTotal;

    // Scratch for the averaged scores during a re-fit.
    private readonly double[] _averaged;

    private long _iteration;
    private bool _hasDistribution;
    private double _mean;
    private double _variance;
    private double _stdev;
    private double _lastUnfilteredLikelihood;

    /// <summary>Creates the estimator with NuPIC's argument names and defaults.</summary>
    /// <param name="learningPeriod">Records whose scores are skipped when fitting (the model is still learning).</param>
    /// <param name="estimationSamples">Records used for the first fit; probation = learningPeriod + estimationSamples.</param>
    /// <param name="historicWindowSize">Records kept for fitting (8640 = a month of 5-minute data).</param>
    /// <param name="reestimationPeriod">Re-fit when the record index is a multiple of this.</param>
    /// <param name="averagingWindow">Width of the raw-score moving average.</param>
    /// <param name="belowMeanTail">Treatment of averaged scores below the mean (see <see cref="BelowMeanTail"/>).</param>
    public NabAnomalyLikelihood(int learningPeriod, int estimationSamples, int historicWindowSize = 8640, int reestimationPeriod = 100, int averagingWindow = 10, BelowMeanTail belowMeanTail = BelowMeanTail.Complement)
    {
        if (belowMeanTail is not BelowMeanTail.Complement and not BelowMeanTail.Mirror)
        {
            throw new ArgumentOutOfRangeException(nameof(belowMeanTail), belowMeanTail, "Unknown below-mean rule.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(learningPeriod);
        ArgumentOutOfRangeException.ThrowIfNegative(estimationSamples);
        ArgumentOutOfRangeException.ThrowIfLessThan(historicWindowSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(reestimationPeriod, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(averagingWindow, 1);
        if (historicWindowSize < estimationSamples)
        {
            throw new ArgumentOutOfRangeException(nameof(estimationSamples), estimationSamples, "estimationSamples exceeds historicWindowSize.");
        }

        if ((long)learningPeriod + estimationSamples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(estimationSamples), "The probationary period (learningPeriod + estimationSamples) must be at least 1: a fit needs one record of history.");
        }

        _learningPeriod = learningPeriod;
        _estimationSamples = estimationSamples;
        _windowSize = historicWindowSize;
        _reestimationPeriod = reestimationPeriod;
        _averagingWindow = averagingWindow;
        _probationaryPeriod = (long)learningPeriod + estimationSamples;
        _belowMean = belowMeanTail;
        _historyValues = new double[2 * historicWindowSize];
        _historyScores = new double[2 * historicWindowSize];
        _averageWindow = new double[averagingWindow];
        _averaged = new double[historicWindowSize];
    }

    /// <summary>The learning period (records skipped by the fit).</summary>
    public int LearningPeriod => _learningPeriod;

    /// <summary>The number of estimation samples.</summary>
    public int EstimationSamples => _estimationSamples;

    /// <summary>The history window size.</summary>
    public int HistoricWindowSize => _windowSize;

    /// <summary>The re-estimation period.</summary>
    public int ReestimationPeriod => _reestimationPeriod;

    /// <summary>The moving-average width.</summary>
    public int AveragingWindow => _averagingWindow;

    /// <summary>The below-mean rule.</summary>
    public BelowMeanTail BelowMeanTail => _belowMean;

    /// <summary>learningPeriod + estimationSamples: the number of leading records that get exactly 0.5.</summary>
    public long ProbationaryPeriod => _probationaryPeriod;

    /// <summary>Number of records seen.</summary>
    public long Iteration => _iteration;

    /// <summary>Whether a distribution has been fitted yet.</summary>
    public bool HasDistribution => _hasDistribution;

    /// <summary>Mean of the current distribution (NaN before the first fit).</summary>
    public double DistributionMean => _hasDistribution ? _mean : double.NaN;

    /// <summary>Variance of the current distribution (NaN before the first fit).</summary>
    public double DistributionVariance => _hasDistribution ? _variance : double.NaN;

    /// <summary>Standard deviation of the current distribution (NaN before the first fit).</summary>
    public double DistributionStdev => _hasDistribution ? _stdev : double.NaN;

    /// <summary>NAB's probationary period for a file of <paramref name="fileLength"/> records: min(floor(0.15·N), 750).</summary>
    public static int NabProbationaryPeriod(int fileLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fileLength);
        return (int)Math.Min(Math.Floor(0.15 * fileLength), 0.15 * 5000);
    }

    /// <summary>How NAB's detector splits a probationary period P: learning = floor(P/2), estimation = P − floor(P/2).</summary>
    public static (int Learning, int Estimation) ForProbation(int probationaryPeriod)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(probationaryPeriod);
        int learning = probationaryPeriod / 2;
        return (learning, probationaryPeriod - learning);
    }

    /// <summary>NuPIC's log transform of a likelihood: ln(1.0000000001 − L) / ln(1 − 0.9999999999); 0.5 ↦ 0.0301, 1 ↦ 1.</summary>
    public static double LogScore(double likelihood) => Math.Log(1.0000000001 - likelihood) / LogScoreDenominator;

    /// <summary>
    /// Processes one record and returns its anomaly likelihood L (0.5 during probation; close to 1 when the
    /// recent raw scores are improbably high).
    /// </summary>
    /// <param name="value">The metric value (used by the flat-metric rule).</param>
    /// <param name="rawScore">The raw anomaly score of this record.</param>
    /// <param name="timestampTicks">The record's timestamp; carried for parity, not used.</param>
    public double AnomalyProbability(double value, double rawScore, long timestampTicks)
    {
        _ = timestampTicks;
        double likelihood;
        if (_iteration < _probationaryPeriod)
        {
            likelihood = 0.5;
        }
        else
        {
            if (!_hasDistribution || _iteration % _reestimationPeriod == 0)
            {
                Reestimate();
            }

            double average = PushAverage(rawScore);
            double q = TailProbability(average, _mean, _stdev, _belowMean);
            double filtered = q;
            if (q <= RedThreshold && !(_lastUnfilteredLikelihood > RedThreshold))
            {
                filtered = YellowThreshold;
            }

            _lastUnfilteredLikelihood = q;
            likelihood = 1.0 - filtered;
        }

        AppendHistory(value, rawScore);
        _iteration++;
        return likelihood;
    }

    /// <summary>The Gaussian upper tail of <paramref name="x"/> under the current distribution, reflecting values below the mean.</summary>
    public double TailProbability(double x)
    {
        if (!_hasDistribution)
        {
            throw new InvalidOperationException("No distribution has been fitted yet.");
        }

        return TailProbability(x, _mean, _stdev, _belowMean);
    }

    /// <summary>
    /// NuPIC's tail probability: for x ≥ mean, Q = 0.5·erfc(((x − mean)/stdev) / 1.4142); for x below the mean,
    /// Q(2·mean − x) or its complement per <paramref name="belowMeanTail"/>.
    /// </summary>
    public static double TailProbability(double x, double mean, double stdev, BelowMeanTail belowMeanTail = BelowMeanTail.Complement)
    {
        if (x < mean)
        {
            double upper = UpperTail((2 * mean) - x, mean, stdev);
            return belowMeanTail == BelowMeanTail.Mirror ? upper : 1.0 - upper;
        }

        return UpperTail(x, mean, stdev);
    }

    private static double UpperTail(double x, double mean, double stdev)
    {
        double z = (x - mean) / stdev;
        return 0.5 * ErrorFunction.Erfc(z / QFunctionSqrt2);
    }

    /// <summary>Writes the complete state: a restored estimator continues exactly as this one would.</summary>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(_learningPeriod);
        writer.WriteInt32(_estimationSamples);
        writer.WriteInt32(_windowSize);
        writer.WriteInt32(_reestimationPeriod);
        writer.WriteInt32(_averagingWindow);
        writer.WriteByte((byte)_belowMean);
        writer.WriteInt64(_iteration);
        writer.WriteSpan(new ReadOnlySpan<double>(_historyValues, _historyStart, _historyCount));
        writer.WriteSpan(new ReadOnlySpan<double>(_historyScores, _historyStart, _historyCount));
        writer.WriteInt32(_averageCount);
        for (int i = 0; i < _averageCount; i++)
        {
            writer.WriteDouble(_averageWindow[(_averageHead + i) % _averagingWindow]);
        }

        writer.WriteDouble(_averageTotal);
        writer.WriteBoolean(_hasDistribution);
        writer.WriteDouble(_mean);
        writer.WriteDouble(_variance);
        writer.WriteDouble(_stdev);
        writer.WriteDouble(_lastUnfilteredLikelihood);
    }

    /// <summary>Reads an estimator written by <see cref="Save"/>.</summary>
    /// <exception cref="CheckpointFormatException">The stored state is inconsistent.</exception>
    public static NabAnomalyLikelihood Load(ref CheckpointReader reader)
    {
        int learningPeriod = reader.ReadInt32();
        int estimationSamples = reader.ReadInt32();
        int windowSize = reader.ReadInt32();
        int reestimationPeriod = reader.ReadInt32();
        int averagingWindow = reader.ReadInt32();
        var belowMean = (BelowMeanTail)reader.ReadByte();
        NabAnomalyLikelihood result;
        try
        {
            result = new NabAnomalyLikelihood(learningPeriod, estimationSamples, windowSize, reestimationPeriod, averagingWindow, belowMean);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CheckpointFormatException($"Stored likelihood parameters are invalid: {e.Message}");
        }

        result._iteration = reader.ReadInt64();
        int count = reader.PeekSpanLength();
        if (count < 0 || count > windowSize || count > result._iteration)
        {
            throw new CheckpointFormatException($"Stored likelihood history holds {count} records (window {windowSize}, iteration {result._iteration}).");
        }

        reader.ReadSpan(result._historyValues.AsSpan(0, count));
        reader.ReadSpan(result._historyScores.AsSpan(0, count));
        result._historyValues.AsSpan(0, count).CopyTo(result._historyValues.AsSpan(windowSize));
        result._historyScores.AsSpan(0, count).CopyTo(result._historyScores.AsSpan(windowSize));
        result._historyCount = count;
        int averageCount = reader.ReadInt32();
        if (averageCount < 0 || averageCount > averagingWindow)
        {
            throw new CheckpointFormatException($"Stored moving average holds {averageCount} scores (window {averagingWindow}).");
        }

        for (int i = 0; i < averageCount; i++)
        {
            result._averageWindow[i] = reader.ReadDouble();
        }

        result._averageCount = averageCount;
        result._averageTotal = reader.ReadDouble();
        result._hasDistribution = reader.ReadBoolean();
        result._mean = reader.ReadDouble();
        result._variance = reader.ReadDouble();
        result._stdev = reader.ReadDouble();
        result._lastUnfilteredLikelihood = reader.ReadDouble();
        return result;
    }

    private double PushAverage(double score)
    {
        if (_averageCount == _averagingWindow)
        {
            _averageTotal -= _averageWindow[_averageHead];
            _averageWindow[_averageHead] = score;
            _averageHead++;
            if (_averageHead == _averagingWindow)
            {
                _averageHead = 0;
            }
        }
        else
        {
            int slot = _averageHead + _averageCount;
            if (slot >= _averagingWindow)
            {
                slot -= _averagingWindow;
            }

            _averageWindow[slot] = score;
            _averageCount++;
        }

        _averageTotal += score;
        return _averageTotal / _averageCount;
    }

    private void AppendHistory(double value, double score)
    {
        int w = _windowSize;
        if (_historyCount < w)
        {
            int slot = _historyStart + _historyCount;
            if (slot >= w)
            {
                slot -= w;
            }

            _historyValues[slot] = value;
            _historyValues[slot + w] = value;
            _historyScores[slot] = score;
            _historyScores[slot + w] = score;
            _historyCount++;
        }
        else
        {
            // Full: the oldest element sits at _historyStart; overwrite it and advance.
            int slot = _historyStart;
            _historyValues[slot] = value;
            _historyValues[slot + w] = value;
            _historyScores[slot] = score;
            _historyScores[slot + w] = score;
            _historyStart = slot + 1 == w ? 0 : slot + 1;
        }
    }

    // estimateAnomalyLikelihoods over the whole history (the current record is not in it yet).
    private void Reestimate()
    {
        int m = _historyCount;
        long shiftedOut = Math.Max(0, _iteration - _windowSize);
        long skipLong = Math.Min(_iteration, Math.Max(0, _learningPeriod - shiftedOut));
        ReadOnlySpan<double> scores = new(_historyScores, _historyStart, m);
        ReadOnlySpan<double> values = new(_historyValues, _historyStart, m);
        Span<double> averaged = _averaged.AsSpan(0, m);

        // Fresh moving average over the history; its final state is what the estimator hands on.
        int window = _averagingWindow;
        double total = 0.0;
        int head = Math.Min(window, m);
        for (int i = 0; i < head; i++)
        {
            total += scores[i];
            averaged[i] = total / (i + 1);
        }

        for (int i = head; i < m; i++)
        {
            total -= scores[i - window];
            total += scores[i];
            averaged[i] = total / window;
        }

        _averageCount = head;
        _averageHead = 0;
        _averageTotal = total;
        scores.Slice(m - head, head).CopyTo(_averageWindow);

        if (m <= skipLong)
        {
            SetNullDistribution();
        }
        else
        {
            int skip = (int)skipLong;
            ReadOnlySpan<double> fitted = averaged[skip..];
            double mean = NumpyReductions.Mean(fitted);
            double variance = NumpyReductions.PopulationVariance(fitted, mean);
            if (mean < MinMean)
            {
                mean = MinMean;
            }

            if (variance < MinVariance)
            {
                variance = MinVariance;
            }

            _mean = mean;
            _variance = variance;
            _stdev = variance > 0 ? Math.Sqrt(variance) : 0;
            _hasDistribution = true;

            ReadOnlySpan<double> metric = values[skip..];
            double metricVariance = NumpyReductions.PopulationVariance(metric, NumpyReductions.Mean(metric));
            if (metricVariance < FlatMetricVariance)
            {
                SetNullDistribution();
            }
        }

        // historicalLikelihoods keeps the unfiltered tail probabilities of the last ≤ 10 averages; only the last
        // one can influence a later result (the filter looks one step back).
        _lastUnfilteredLikelihood = TailProbability(averaged[m - 1], _mean, _stdev, _belowMean);
    }

    private void SetNullDistribution()
    {
        _mean = NullMean;
        _variance = NullVariance;
        _stdev = NullStdev;
        _hasDistribution = true;
    }
}
