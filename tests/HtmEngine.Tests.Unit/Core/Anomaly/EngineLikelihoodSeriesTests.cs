using HtmEngine.Core.Anomaly;

namespace HtmEngine.Tests.Unit.Core.Anomaly;

public class EngineLikelihoodSeriesTests
{
    private static readonly EngineLikelihoodSettings s_small = new(MinSampleSize: 20, RefreshRate: 8, SampleSize: 8640, SkipRecords: 5);

    private static (DateTime[] Timestamps, double[] Values, double[] Raw) Series(int count)
    {
        var timestamps = new DateTime[count];
        var values = new double[count];
        var raw = new double[count];
        for (int i = 0; i < count; i++)
        {
            timestamps[i] = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(5 * i);
            values[i] = 50 + (20 * Math.Sin(i / 6.0));
            raw[i] = i % 11 == 0 ? 0.6 : 0.05 + (0.01 * (i % 3));
        }

        return (timestamps, values, raw);
    }

    [Fact]
    public void Rows_before_the_minimum_sample_score_zero_and_later_rows_get_likelihoods()
    {
        var (timestamps, values, raw) = Series(120);
        double[] scores = EngineLikelihoodSeries.Score(s_small, timestamps, values, raw);
        for (int i = 0; i < s_small.MinSampleSize - 1; i++)
        {
            Assert.Equal(0.0, scores[i]);
        }

        Assert.Contains(scores[s_small.MinSampleSize..], s => s > 0 && s < 1);
    }

    [Fact]
    public void Row_at_a_time_equals_feeding_batches_smaller_than_ten_refresh_intervals()
    {
        var (timestamps, values, raw) = Series(300);
        double[] reference = EngineLikelihoodSeries.Score(s_small, timestamps, values, raw);

        // Batches of varying size, state carried over, history of the earlier rows. Only batches below 10 × RefreshRate
        // rows are invariant: a larger one stretches the refresh interval to n × 0.1 (the original's rule), which is why
        // the anomaly service feeds its rows one at a time.
        var helper = new EngineAnomalyLikelihood(s_small);
        var history = new List<ScoredRow>();
        var view = new History(history);
        EngineLikelihoodState? state = null;
        int[] sizes = [1, 7, 30, 2, 64, 5, 79, 13];
        int next = 0;
        for (int b = 0; next < raw.Length; b++)
        {
            int n = Math.Min(sizes[b % sizes.Length], raw.Length - next);
            var rows = new ScoredRow[n];
            for (int k = 0; k < n; k++)
            {
                rows[k] = new ScoredRow(next + k + 1, timestamps[next + k], values[next + k], raw[next + k]);
            }

            var scores = new double[n];
            state = helper.UpdateModelAnomalyScores(state, rows, scores, view);
            for (int k = 0; k < n; k++)
            {
                Assert.True(
                    BitConverter.DoubleToInt64Bits(reference[next + k]) == BitConverter.DoubleToInt64Bits(scores[k]),
                    $"row {next + k + 1}: batch {scores[k]:R}, row at a time {reference[next + k]:R}");
            }

            history.AddRange(rows);
            next += n;
        }
    }

    private sealed class History(List<ScoredRow> rows) : IScoredRowHistory
    {
        public long CountScoredRows() => rows.Count;

        public void ReadNewestScoredRows(int limit, List<ScoredRow> destination) =>
            destination.AddRange(rows.GetRange(Math.Max(0, rows.Count - limit), Math.Min(limit, rows.Count)));
    }
}
