using System.Runtime.InteropServices;

namespace HtmEngine.Core.Anomaly;

/// <summary>One metric_data row as the likelihood needs it: rowid, timestamp, value and raw anomaly score.</summary>
/// <param name="RowId">The row's id (ascending with time within a metric).</param>
/// <param name="Timestamp">The row's timestamp (carried along; the statistics do not use it).</param>
/// <param name="Value">The metric value.</param>
/// <param name="RawScore">The model's raw anomaly score for the row.</param>
public readonly record struct ScoredRow(long RowId, DateTime Timestamp, double Value, double RawScore);

/// <summary>
/// Read access to a metric's stored rows that already have a raw anomaly score (the rows of earlier batches; the
/// batch being scored is not in it yet). The anomaly service implements it over the repository; the helper calls
/// it lazily, only when it needs history (first estimate, first refresh within a batch).
/// </summary>
public interface IScoredRowHistory
{
    /// <summary>Number of the metric's rows with a non-null raw anomaly score.</summary>
    long CountScoredRows();

    /// <summary>
    /// Appends to <paramref name="destination"/> the newest ≤ <paramref name="limit"/> rows with a raw anomaly
    /// score, in ascending timestamp order.
    /// </summary>
    void ReadNewestScoredRows(int limit, List<ScoredRow> destination);
}

/// <summary>Configuration of <see cref="EngineAnomalyLikelihood"/> (htmengine's <c>[anomaly_likelihood]</c> section).</summary>
/// <param name="MinSampleSize"><c>statistics_min_sample_size</c>: rows needed before the first estimate.</param>
/// <param name="RefreshRate"><c>statistics_refresh_rate</c>: rows between estimates (at least; 10 % of a large batch).</param>
/// <param name="SampleSize"><c>statistics_sample_size</c>: newest rows used by an estimate.</param>
/// <param name="SkipRecords"><c>NUM_SKIP_RECORDS</c>: leading rows of each estimate's sample ignored by the fit.</param>
public sealed record EngineLikelihoodSettings(int MinSampleSize = 100, int RefreshRate = 24, int SampleSize = 8640, int SkipRecords = 288)
{
    /// <summary>htmengine's defaults: 100, 24, 8640, 288.</summary>
    public static EngineLikelihoodSettings Default { get; } = new();
}

/// <summary>
/// htmengine's <c>AnomalyLikelihoodHelper</c> (htmengine-spec §8.3) over nupic 0.3.4's likelihood functions: scores
/// a batch of newly inferred rows of one metric, refreshing the estimate every <c>max(24, 10 % of the batch)</c>
/// rows (and greedily after a score above 0.99) from the newest 8640 scored rows, skipping the first 288 of them.
/// The tail probability comes from the 71-entry table of Appendix A (nearest tenth of a standard deviation),
/// not from erfc; the stored <c>anomaly_score</c> is 1 − filtered likelihood, without log transform.
/// </summary>
/// <remarks>
/// <para>Usage by the anomaly service, per inference batch of a metric: decode <c>model_params</c>, take
/// <c>anomalyLikelihoodParams</c> with <see cref="EngineLikelihoodState.FromJson(System.Text.Json.JsonElement)"/>,
/// call <see cref="UpdateModelAnomalyScores"/> with the batch rows in ascending rowid order and a history view of
/// the earlier rows, store the scores, and write the returned state back with
/// <see cref="EngineLikelihoodState.WriteTo"/> (JSON null while it is still null). The helper keeps no state of
/// its own between batches, so one instance can serve every metric.</para>
/// <para>Until <c>MinSampleSize</c> rows have raw scores, rows score 0 (and the rows consumed by the first
/// estimate also keep 0); afterwards the score is 0.5 until an estimate's sample exceeds <c>SkipRecords</c>
/// rows (the null distribution), then follows the data.</para>
/// </remarks>
public sealed class EngineAnomalyLikelihood
{
    /// <summary>Appendix A: Q[k] = P(N(0,1) &gt; k/10), k = 0…70, with nupic 0.3.4's approximate entries from 41 on.</summary>
    private static readonly double[] s_qTable =
    [
        0.500000000, 0.460172163, 0.420740291, 0.382088578, 0.344578258,
        0.308537539, 0.274253118, 0.241963652, 0.211855399, 0.184060125,
        0.158655254, 0.135666061, 0.115069670, 0.096800485, 0.080756659,
        0.066807201, 0.054799292, 0.044565463, 0.035930319, 0.028716560,
        0.022750132, 0.017864421, 0.013903448, 0.010724110, 0.008197536,
        0.006209665, 0.004661188, 0.003466974, 0.002555130, 0.001865813,
        0.001349898, 0.000967603, 0.000687138, 0.000483424, 0.000336929,
        0.000232629, 0.000159109, 0.000107800, 0.000072348, 0.000048096,
        0.000031671, 0.000021771135897, 0.000014034063752, 0.000008961673661,
        0.000005668743475, 0.000003551942468, 0.000002204533058,
        0.000001355281953, 0.000000825270644, 0.000000497747091,
        0.000000297343903, 0.000000175930101, 0.000000103096834,
        0.000000059836778, 0.000000034395590, 0.000000019581382,
        0.000000011040394, 0.000000006164833, 0.000000003409172,
        0.000000001867079, 0.000000001012647, 0.000000000543915,
        0.000000000289320, 0.000000000152404, 0.000000000079502,
        0.000000000041070, 0.000000000021010, 0.000000000010644,
        0.000000000005340, 0.000000000002653, 0.000000000001305,
    ];

    private const double GreedyRefreshScore = 0.99;
    private const int GreedyRefreshMinRows = 3;
    private const int AveragingWindow = 10;

    /// <summary>Creates the helper.</summary>
    public EngineAnomalyLikelihood(EngineLikelihoodSettings? settings = null)
    {
        Settings = settings ?? EngineLikelihoodSettings.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(Settings.MinSampleSize, 1, nameof(settings));
        ArgumentOutOfRangeException.ThrowIfLessThan(Settings.RefreshRate, 1, nameof(settings));
        ArgumentOutOfRangeException.ThrowIfLessThan(Settings.SampleSize, Settings.MinSampleSize, nameof(settings));
        ArgumentOutOfRangeException.ThrowIfNegative(Settings.SkipRecords, nameof(settings));
    }

    /// <summary>The configuration.</summary>
    public EngineLikelihoodSettings Settings { get; }

    /// <summary>The Appendix A table entry k (0…70).</summary>
    public static double QTable(int k) => s_qTable[k];

    /// <summary>
    /// nupic 0.3.4 <c>normalProbability</c>: P(sample &gt; x). Below the mean it is 1 − P(2·mean − x); above it the
    /// table entry at round(10·(x − mean)/stdev) (halves away from zero), and 0 beyond 7 standard deviations.
    /// </summary>
    public static double NormalProbability(double x, double mean, double stdev)
    {
        if (x < mean)
        {
            return 1.0 - NormalProbability((2 * mean) - x, mean, stdev);
        }

        double xs = 10 * (x - mean) / stdev;
        xs = Math.Round(xs, MidpointRounding.AwayFromZero);
        if (xs > 70)
        {
            return 0.0;
        }

        return s_qTable[(int)xs];
    }

    /// <summary>
    /// nupic 0.3.4 <c>estimateAnomalyLikelihoods</c>: the estimator state fitted to <paramref name="samples"/>
    /// (10-point moving average of the raw scores; normal fitted after <paramref name="skipRecords"/> samples with
    /// numpy's mean and population variance, mean ≥ 0.03, variance ≥ 0.0003; the null distribution when there
    /// are too few samples or the metric values are flat).
    /// </summary>
    public static LikelihoodEstimatorParams Estimate(ReadOnlySpan<ScoredRow> samples, int skipRecords)
    {
        int m = samples.Length;
        if (m == 0)
        {
            throw new ArgumentException("At least one sample is needed.", nameof(samples));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(skipRecords);
        var averaged = new double[m];
        var values = new double[m];
        var result = new LikelihoodEstimatorParams { WindowSize = AveragingWindow };
        double total = 0.0;
        List<double> window = result.HistoricalValues;
        for (int i = 0; i < m; i++)
        {
            total = PushAverage(window, total, samples[i].RawScore, AveragingWindow, out averaged[i]);
            values[i] = samples[i].Value;
        }

        result.Total = total;
        if (m <= skipRecords)
        {
            SetNull(result);
        }
        else
        {
            ReadOnlySpan<double> fitted = averaged.AsSpan(skipRecords);
            double mean = NumpyReductions.Mean(fitted);
            double variance = NumpyReductions.PopulationVariance(fitted, mean);
            result.Mean = mean < 0.03 ? 0.03 : mean;
            result.Variance = variance < 0.0003 ? 0.0003 : variance;
            result.Stdev = result.Variance > 0 ? Math.Sqrt(result.Variance) : 0;
            ReadOnlySpan<double> metric = values.AsSpan(skipRecords);
            double metricVariance = NumpyReductions.PopulationVariance(metric, NumpyReductions.Mean(metric));
            if (metricVariance < 1.5e-5)
            {
                SetNull(result);
            }
        }

        for (int i = Math.Max(0, m - AveragingWindow); i < m; i++)
        {
            result.HistoricalLikelihoods.Add(NormalProbability(averaged[i], result.Mean, result.Stdev));
        }

        return result;
    }

    /// <summary>
    /// nupic 0.3.4 <c>updateAnomalyLikelihoods</c> for one row: advances the moving average and the recent
    /// likelihoods in <paramref name="estimatorParams"/> and returns the filtered likelihood (a red value right
    /// after an unfiltered red value becomes yellow, 1e-3).
    /// </summary>
    public static double Update(double rawScore, LikelihoodEstimatorParams estimatorParams)
    {
        ArgumentNullException.ThrowIfNull(estimatorParams);
        estimatorParams.Total = PushAverage(estimatorParams.HistoricalValues, estimatorParams.Total, rawScore, estimatorParams.WindowSize, out double average);
        double q = NormalProbability(average, estimatorParams.Mean, estimatorParams.Stdev);
        List<double> history = estimatorParams.HistoricalLikelihoods;
        double filtered = q;
        if (history.Count > 0 && q <= NabAnomalyLikelihood.RedThreshold && !(history[^1] > NabAnomalyLikelihood.RedThreshold))
        {
            filtered = NabAnomalyLikelihood.YellowThreshold;
        }

        history.Add(q);
        int keep = Math.Max(estimatorParams.WindowSize, 0);
        if (history.Count > keep)
        {
            history.RemoveRange(0, history.Count - keep);
        }

        return filtered;
    }

    /// <summary>
    /// Scores one inference batch of a metric (<c>updateModelAnomalyScores</c>): writes <c>anomaly_score</c> for
    /// every row of <paramref name="rows"/> into <paramref name="anomalyScores"/> and returns the state to persist.
    /// </summary>
    /// <param name="state">The persisted state (null when not yet initialised). Not modified.</param>
    /// <param name="rows">The batch, ascending by rowid, raw scores filled in.</param>
    /// <param name="anomalyScores">Receives one score per row.</param>
    /// <param name="history">The metric's earlier scored rows.</param>
    /// <returns>The new state; null while fewer than <c>MinSampleSize</c> rows have raw scores.</returns>
    public EngineLikelihoodState? UpdateModelAnomalyScores(EngineLikelihoodState? state, ReadOnlySpan<ScoredRow> rows, Span<double> anomalyScores, IScoredRowHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (anomalyScores.Length != rows.Length)
        {
            throw new ArgumentException("One score slot per row is needed.", nameof(anomalyScores));
        }

        anomalyScores.Clear();
        int n = rows.Length;
        int min = Settings.MinSampleSize;
        int interval = (int)Math.Max(Settings.RefreshRate, n * 0.1);
        List<ScoredRow>? cache = null;
        int start = 0;
        EngineLikelihoodState? current = state?.Clone();

        if (current is null)
        {
            long processed = history.CountScoredRows();
            if (processed + n < min)
            {
                return null;
            }

            int consume = (int)Math.Max(0, min - processed);
            current = Refresh(ref cache, rows[..consume], history);
            if (current is null)
            {
                throw new InvalidOperationException($"The history reported {processed} scored rows but fewer than {min - consume} could be read.");
            }

            start = consume;
        }

        var consumed = new List<ScoredRow>();
        while (start < n)
        {
            long startRowId = rows[start].RowId;
            long end;
            if (cache is null || cache.Count >= min)
            {
                end = current.LastRowIdForStats + interval;
                if (end < startRowId && cache is not null)
                {
                    end = startRowId;
                }
            }
            else
            {
                end = startRowId + (min - cache.Count - 1);
            }

            int limit = end < startRowId ? start : start + (int)Math.Min(n - start, end + 1 - startRowId);
            consumed.Clear();
            for (int i = start; i < limit; i++)
            {
                ScoredRow row = rows[i];
                consumed.Add(row);
                double likelihood = Update(row.RawScore, current.Params);
                double score = 1.0 - likelihood;
                anomalyScores[i] = score;
                if (score > GreedyRefreshScore && current.LastRowIdForStats + GreedyRefreshMinRows < row.RowId
                    && (cache is null || cache.Count + consumed.Count >= min))
                {
                    break;
                }
            }

            if (start + consumed.Count < n || consumed[^1].RowId >= end)
            {
                current = Refresh(ref cache, CollectionsMarshal.AsSpan(consumed), history) ?? current;
            }

            start += consumed.Count;
        }

        return current;
    }

    // _refreshAnomalyParams + _generateAnomalyParams: extend (or first build) the sample cache, then estimate from
    // its newest SampleSize rows when it holds at least MinSampleSize; otherwise return null (keep the old state).
    private EngineLikelihoodState? Refresh(ref List<ScoredRow>? cache, ReadOnlySpan<ScoredRow> consumed, IScoredRowHistory history)
    {
        if (cache is null)
        {
            cache = new List<ScoredRow>();
            int limit = Math.Max(0, Settings.SampleSize - consumed.Length);
            if (limit > 0)
            {
                history.ReadNewestScoredRows(limit, cache);
            }
        }

        cache.AddRange(consumed);
        if (cache.Count < Settings.MinSampleSize)
        {
            return null;
        }

        int count = Math.Min(cache.Count, Settings.SampleSize);
        ReadOnlySpan<ScoredRow> samples = CollectionsMarshal.AsSpan(cache)[(cache.Count - count)..];
        return new EngineLikelihoodState(cache[^1].RowId, Estimate(samples, Settings.SkipRecords));
    }

    private static double PushAverage(List<double> window, double total, double value, int windowSize, out double average)
    {
        if (window.Count == windowSize)
        {
            total -= window[0];
            window.RemoveAt(0);
        }

        window.Add(value);
        total += value;
        average = total / window.Count;
        return total;
    }

    private static void SetNull(LikelihoodEstimatorParams p)
    {
        p.Mean = 0.5;
        p.Variance = 1e6;
        p.Stdev = 1e3;
    }
}
