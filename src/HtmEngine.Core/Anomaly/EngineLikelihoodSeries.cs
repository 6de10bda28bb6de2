namespace HtmEngine.Core.Anomaly;

/// <summary>
/// The engine's likelihood helper (<see cref="EngineAnomalyLikelihood"/>) fed one row at a time with every earlier row
/// as its history, kept in memory. This is the reference the engine's anomaly service must agree with
/// (<c>htmengine detect --likelihood engine</c>): the service feeds batches and reads history from the database,
/// and the scores must not depend on either.
/// </summary>
public sealed class EngineLikelihoodSeries : IScoredRowHistory
{
    private readonly EngineAnomalyLikelihood _helper;
    private readonly List<ScoredRow> _rows = [];
    private readonly ScoredRow[] _one = new ScoredRow[1];
    private readonly double[] _score = new double[1];
    private EngineLikelihoodState? _state;

    /// <summary>Creates the series with the given settings (htmengine's defaults when null).</summary>
    /// <param name="settings">The helper's settings.</param>
    public EngineLikelihoodSeries(EngineLikelihoodSettings? settings = null) => _helper = new EngineAnomalyLikelihood(settings);

    /// <summary>Scores the next row (rowids are assigned 1, 2, … in call order) and adds it to the history.</summary>
    /// <param name="timestamp">The row's timestamp.</param>
    /// <param name="value">The metric value.</param>
    /// <param name="rawScore">The model's raw anomaly score for the row.</param>
    /// <returns>The row's anomaly score.</returns>
    public double Next(DateTime timestamp, double value, double rawScore)
    {
        _one[0] = new ScoredRow(_rows.Count + 1, timestamp, value, rawScore);
        _state = _helper.UpdateModelAnomalyScores(_state, _one, _score, this);
        _rows.Add(_one[0]);
        return _score[0];
    }

    /// <summary>The anomaly scores of a whole series, row by row (the reference the engine's scores are compared with).</summary>
    /// <param name="settings">The helper's settings.</param>
    /// <param name="timestamps">The rows' timestamps.</param>
    /// <param name="values">The metric values.</param>
    /// <param name="rawScores">The model's raw anomaly scores.</param>
    /// <returns>One anomaly score per row.</returns>
    public static double[] Score(EngineLikelihoodSettings? settings, ReadOnlySpan<DateTime> timestamps, ReadOnlySpan<double> values, ReadOnlySpan<double> rawScores)
    {
        var series = new EngineLikelihoodSeries(settings);
        var scores = new double[rawScores.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = series.Next(timestamps[i], values[i], rawScores[i]);
        }

        return scores;
    }

    /// <inheritdoc />
    long IScoredRowHistory.CountScoredRows() => _rows.Count;

    /// <inheritdoc />
    void IScoredRowHistory.ReadNewestScoredRows(int limit, List<ScoredRow> destination)
    {
        for (int i = Math.Max(0, _rows.Count - limit); i < _rows.Count; i++)
        {
            destination.Add(_rows[i]);
        }
    }
}
