using System.Text.Json;
using HtmEngine.Core.Anomaly;

namespace HtmEngine.Tests.Unit.Core.Anomaly;

public class EngineAnomalyLikelihoodTests
{
    private sealed class FakeHistory : IScoredRowHistory
    {
        public List<ScoredRow> Rows { get; } = new();

        public int Reads { get; private set; }

        public long CountScoredRows() => Rows.Count;

        public void ReadNewestScoredRows(int limit, List<ScoredRow> destination)
        {
            Reads++;
            destination.AddRange(Rows.Skip(Math.Max(0, Rows.Count - limit)));
        }
    }

    private static ScoredRow Row(long id, double raw, double? value = null)
        => new(id, new DateTime(2015, 1, 1).AddMinutes(5 * id), value ?? (id % 50), raw);

    private static double Raw(long id) => id % 7 == 0 ? 0.2 : 0.025;

    [Fact]
    public void Rows_score_zero_until_the_minimum_sample()
    {
        var helper = new EngineAnomalyLikelihood();
        var history = new FakeHistory();
        for (long id = 1; id <= 60; id++)
        {
            history.Rows.Add(Row(id, Raw(id)));
        }

        ScoredRow[] batch = Enumerable.Range(61, 30).Select(i => Row(i, Raw(i))).ToArray();
        var scores = new double[batch.Length];
        scores.AsSpan().Fill(double.NaN);
        Assert.Null(helper.UpdateModelAnomalyScores(null, batch, scores, history));
        Assert.All(scores, s => Assert.Equal(0.0, s));
        Assert.Equal(0, history.Reads);
    }

    [Fact]
    public void Crossing_the_minimum_consumes_rows_for_the_first_estimate()
    {
        var helper = new EngineAnomalyLikelihood();
        var history = new FakeHistory();
        for (long id = 1; id <= 80; id++)
        {
            history.Rows.Add(Row(id, Raw(id)));
        }

        ScoredRow[] batch = Enumerable.Range(81, 40).Select(i => Row(i, Raw(i))).ToArray();
        var scores = new double[batch.Length];
        EngineLikelihoodState? state = helper.UpdateModelAnomalyScores(null, batch, scores, history);
        Assert.NotNull(state);

        // 20 rows complete the 100 needed; they keep 0. The rest score 0.5: 100 samples ≤ 288 skipped ⇒ null distribution.
        Assert.All(scores.Take(20), s => Assert.Equal(0.0, s));
        Assert.All(scores.Skip(20), s => Assert.Equal(0.5, s));
        Assert.Equal(0.5, state!.Params.Mean);
        Assert.Equal(1e6, state.Params.Variance);
        Assert.Equal(1e3, state.Params.Stdev);

        // First estimate at rowid 100; the next refresh is due at rowid 124, beyond this batch (which ends at 120).
        Assert.Equal(100, state.LastRowIdForStats);
        Assert.Equal(10, state.Params.HistoricalValues.Count);
        Assert.Equal(10, state.Params.HistoricalLikelihoods.Count);
    }

    [Fact]
    public void One_row_batches_refresh_every_24_rows()
    {
        var helper = new EngineAnomalyLikelihood();
        var history = new FakeHistory();
        for (long id = 1; id <= 150; id++)
        {
            history.Rows.Add(Row(id, Raw(id)));
        }

        EngineLikelihoodState? state = null;
        var lastIds = new List<long>();
        var scores = new double[1];
        for (long id = 151; id <= 260; id++)
        {
            ScoredRow row = Row(id, Raw(id));
            state = helper.UpdateModelAnomalyScores(state, [row], scores, history);
            history.Rows.Add(row);
            lastIds.Add(state!.LastRowIdForStats);
        }

        // Initialised from the 150 stored rows, then refreshed whenever the consumed rowid reaches last + 24.
        Assert.Equal(150, lastIds[0]);
        Assert.Equal(150, lastIds[173 - 151]);
        Assert.Equal(174, lastIds[174 - 151]);
        Assert.Equal(174, lastIds[197 - 151]);
        Assert.Equal(198, lastIds[198 - 151]);
        Assert.Equal(222, lastIds[222 - 151]);
        Assert.Equal(246, lastIds[259 - 151]);
    }

    [Fact]
    public void Large_batches_refresh_every_tenth_of_the_batch()
    {
        var helper = new EngineAnomalyLikelihood();
        var history = new FakeHistory();
        for (long id = 1; id <= 400; id++)
        {
            history.Rows.Add(Row(id, Raw(id)));
        }

        var state = new EngineLikelihoodState(400, EngineAnomalyLikelihood.Estimate(history.Rows.ToArray(), 288));
        ScoredRow[] batch = Enumerable.Range(401, 1000).Select(i => Row(i, Raw(i))).ToArray();
        var scores = new double[batch.Length];
        EngineLikelihoodState? after = helper.UpdateModelAnomalyScores(state, batch, scores, history);

        // interval = int(max(24, 100.0)) = 100: refreshes at 500, 600, …, 1400; the last one is the batch end.
        Assert.Equal(1400, after!.LastRowIdForStats);
        Assert.Equal(1, history.Reads);
        Assert.NotSame(state, after);
        Assert.Equal(400, state.LastRowIdForStats); // the input state is not modified
    }

    [Fact]
    public void A_spike_forces_a_greedy_refresh()
    {
        var helper = new EngineAnomalyLikelihood();
        var history = new FakeHistory();
        var rng = new Random(2);
        for (long id = 1; id <= 600; id++)
        {
            history.Rows.Add(Row(id, rng.NextDouble() * 0.05, rng.NextDouble()));
        }

        var state = new EngineLikelihoodState(600, EngineAnomalyLikelihood.Estimate(history.Rows.ToArray(), 288));
        ScoredRow[] batch = Enumerable.Range(601, 20).Select(i => Row(i, i >= 605 ? 1.0 : 0.0, rng.NextDouble())).ToArray();
        var scores = new double[batch.Length];
        EngineLikelihoodState? after = helper.UpdateModelAnomalyScores(state, batch, scores, history);

        int firstHigh = Array.FindIndex(scores, s => s > 0.99);
        Assert.True(firstHigh >= 0, "the spike must score above 0.99");
        Assert.Equal(1, history.Reads);

        // The run stopped at the first row above 0.99 (rowid > last + 3) and re-estimated from the cache ending there.
        Assert.True(after!.LastRowIdForStats >= 601 + firstHigh);
        Assert.True(after.Params.Mean > state.Params.Mean);
    }

    [Fact]
    public void Estimate_skips_the_first_records_and_checks_flat_values()
    {
        var rng = new Random(9);
        ScoredRow[] rows = Enumerable.Range(1, 400).Select(i => Row(i, i <= 288 ? 1.0 : rng.NextDouble() * 0.1, rng.NextDouble())).ToArray();
        LikelihoodEstimatorParams p = EngineAnomalyLikelihood.Estimate(rows, 288);

        // Averages after the skip (the first 9 of them still see the 1.0 scores of the skipped rows).
        var averages = new double[rows.Length];
        double total = 0;
        var window = new Queue<double>();
        for (int i = 0; i < rows.Length; i++)
        {
            if (window.Count == 10)
            {
                total -= window.Dequeue();
            }

            window.Enqueue(rows[i].RawScore);
            total += rows[i].RawScore;
            averages[i] = total / window.Count;
        }

        double mean = NumpyReductions.Mean(averages.AsSpan(288));
        Assert.Equal(mean, p.Mean);
        Assert.Equal(NumpyReductions.PopulationVariance(averages.AsSpan(288)), p.Variance);
        Assert.Equal(Math.Sqrt(p.Variance), p.Stdev);
        Assert.Equal(total, p.Total);

        ScoredRow[] flat = rows.Select(r => r with { Value = 3.0 }).ToArray();
        Assert.Equal(0.5, EngineAnomalyLikelihood.Estimate(flat, 288).Mean);
        Assert.Equal(0.5, EngineAnomalyLikelihood.Estimate(rows.AsSpan(0, 288), 288).Mean);
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.1, 1)]
    [InlineData(1.0, 10)]
    [InlineData(4.0, 40)]
    [InlineData(4.1, 41)]
    [InlineData(7.0, 70)]
    [InlineData(0.14, 1)]
    [InlineData(0.16, 2)]
    [InlineData(2.349, 23)]
    [InlineData(2.351, 24)]
    public void Table_lookup_at_and_between_points(double sigmas, int k)
    {
        Assert.Equal(EngineAnomalyLikelihood.QTable(k), EngineAnomalyLikelihood.NormalProbability(0.2 + (sigmas * 0.5), 0.2, 0.5));
    }

    [Fact]
    public void Table_lookup_rounds_halves_away_from_zero_and_ends_at_seven_sigma()
    {
        // 10·(x − mean)/stdev = 2.5 exactly → 3 (banker's rounding would give 2).
        Assert.Equal(EngineAnomalyLikelihood.QTable(3), EngineAnomalyLikelihood.NormalProbability(0.25, 0.0, 1.0));
        Assert.Equal(0.308537539, EngineAnomalyLikelihood.QTable(5));
        Assert.Equal(0.000000000001305, EngineAnomalyLikelihood.QTable(70));
        Assert.Equal(0.0, EngineAnomalyLikelihood.NormalProbability(7.06, 0.0, 1.0));
        Assert.Equal(EngineAnomalyLikelihood.QTable(70), EngineAnomalyLikelihood.NormalProbability(7.04, 0.0, 1.0));
        // Below the mean: 1 − P(reflected).
        Assert.Equal(1.0 - EngineAnomalyLikelihood.QTable(10), EngineAnomalyLikelihood.NormalProbability(-1.0, 0.0, 1.0));
    }

    [Fact]
    public void Update_filters_consecutive_red_values()
    {
        var p = new LikelihoodEstimatorParams { Mean = 0.03, Variance = 0.0003, Stdev = Math.Sqrt(0.0003) };
        p.HistoricalLikelihoods.Add(0.4);
        double first = 0, second = 0;
        for (int i = 0; i < 10; i++)
        {
            double l = EngineAnomalyLikelihood.Update(1.0, p);
            if (i == 0)
            {
                first = l;
            }
            else if (i == 1)
            {
                second = l;
            }
        }

        Assert.Equal(0.0, first);                                  // the first red stays red (beyond 7σ ⇒ 0)
        Assert.Equal(NabAnomalyLikelihood.YellowThreshold, second);  // the next one is clipped to yellow
        Assert.Equal(10, p.HistoricalValues.Count);
        Assert.Equal(10, p.HistoricalLikelihoods.Count);
        Assert.All(p.HistoricalLikelihoods.Skip(1), l => Assert.Equal(0.0, l)); // unfiltered values are kept
        Assert.Equal(10.0, p.Total);
    }

    [Fact]
    public void Json_round_trip_and_python_written_state()
    {
        var rng = new Random(4);
        ScoredRow[] rows = Enumerable.Range(1, 500).Select(i => Row(i, rng.NextDouble() * 0.3, rng.NextDouble())).ToArray();
        var state = new EngineLikelihoodState(500, EngineAnomalyLikelihood.Estimate(rows, 288));
        string json = EngineLikelihoodState.ToJson(state);
        EngineLikelihoodState? back = EngineLikelihoodState.Parse(json);
        Assert.NotNull(back);
        Assert.Equal(json, EngineLikelihoodState.ToJson(back));
        Assert.Equal(state.Params.Mean, back!.Params.Mean);
        Assert.Equal(state.Params.HistoricalValues, back.Params.HistoricalValues);

        Assert.Equal("null", EngineLikelihoodState.ToJson(null));
        Assert.Null(EngineLikelihoodState.Parse("null"));
        Assert.Null(EngineLikelihoodState.Parse("{}"));

        const string python = """
            {"last_rowid_for_stats": 1234, "params": {"distribution": {"name": "normal", "mean": 0.5,
              "variance": 1000000.0, "stdev": 1000.0}, "movingAverage": {"historicalValues": [0.0, 1.0, 0.025],
              "total": 1.025, "windowSize": 10}}}
            """;
        EngineLikelihoodState? old = EngineLikelihoodState.Parse(python);
        Assert.Equal(1234, old!.LastRowIdForStats);
        Assert.Equal(1e6, old.Params.Variance);
        Assert.Equal(new[] { 0.0, 1.0, 0.025 }, old.Params.HistoricalValues);
        Assert.Equal(new[] { 1.0 }, old.Params.HistoricalLikelihoods); // the original's default when absent

        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.True(doc.RootElement.GetProperty("params").GetProperty("distribution").TryGetProperty("stdev", out _));
        Assert.Throws<FormatException>(() => EngineLikelihoodState.Parse("""{"last_rowid_for_stats": 1}"""));
        Assert.Throws<FormatException>(() => EngineLikelihoodState.Parse("{"));
    }
}

public class DisplayValueTests
{
    [Fact]
    public void Thresholds_and_offsets()
    {
        Assert.Equal(0.0, DisplayValue.Compute(0.0));
        Assert.Equal(1_000_000_001.0, DisplayValue.Compute(0.999995));
        Assert.Equal(1_000_000_001.0, DisplayValue.Compute(1.0));

        // log score 0.5 ⇔ L = 1 − 1e-5 (+1e-10); just below stays yellow.
        double redEdge = 1.0000000001 - Math.Exp(0.5 * Math.Log(1.0 - 0.9999999999));
        Assert.True(DisplayValue.Compute(redEdge + 1e-12) >= DisplayValue.RedOffset);
        Assert.InRange(DisplayValue.Compute(0.99995), DisplayValue.YellowOffset, DisplayValue.YellowOffset + 1);
        Assert.InRange(DisplayValue.Compute(0.5), DisplayValue.GreenOffset, DisplayValue.GreenOffset + 1);
        Assert.Equal(1000 + NabAnomalyLikelihood.LogScore(0.5), DisplayValue.Compute(0.5), 9);
        Assert.Equal(DisplayValue.Compute(0.5), DisplayValue.Compute(-0.5));
        Assert.Equal(DisplayValue.Compute(0.5) * 1e-9, DisplayValue.Compute(0.5, active: false));
    }
}
