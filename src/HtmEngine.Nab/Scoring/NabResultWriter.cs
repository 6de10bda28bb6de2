using System.Globalization;

namespace HtmEngine.Nab.Scoring;

/// <summary>
/// Writes detector result files in NAB's format, with numbers at most 12 significant digits so that
/// NAB's (pandas') reader and ours read back the same doubles.
/// </summary>
public static class NabResultWriter
{
    /// <summary>The number format used for every number written (12 significant digits).</summary>
    public const string NumberFormat = "G12";

    /// <summary>
    /// A score as it will read back from a result file: rounded to 12 significant digits. Score
    /// in-memory results through this to get what scoring the written files gives.
    /// </summary>
    /// <param name="score">The score.</param>
    /// <returns>The rounded score.</returns>
    public static double RoundForResults(double score) =>
        double.Parse(score.ToString(NumberFormat, CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>
    /// Writes <c>timestamp,value,anomaly_score[,raw_score],label</c> rows for <paramref name="file"/>;
    /// <c>label</c> is 1 inside a window, else 0 (informational: NAB's scorer ignores it).
    /// </summary>
    /// <param name="writer">The destination.</param>
    /// <param name="file">The labelled file; it must carry its <see cref="NabLabeledFile.Series"/>.</param>
    /// <param name="anomalyScores">One score per row.</param>
    /// <param name="rawScores">One raw score per row, or empty to omit the <c>raw_score</c> column.</param>
    /// <exception cref="ArgumentException">The file has no series or the arrays have the wrong length.</exception>
    public static void Write(TextWriter writer, NabLabeledFile file, ReadOnlySpan<double> anomalyScores, ReadOnlySpan<double> rawScores = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(file);
        NabSeries series = file.Series ?? throw new ArgumentException($"'{file.Name}' carries no series (timestamps and values)", nameof(file));
        if (anomalyScores.Length != file.RowCount || (!rawScores.IsEmpty && rawScores.Length != file.RowCount))
        {
            throw new ArgumentException($"'{file.Name}' has {file.RowCount} rows; got {anomalyScores.Length} scores and {rawScores.Length} raw scores");
        }

        bool raw = !rawScores.IsEmpty;
        writer.Write(raw ? "timestamp,value,anomaly_score,raw_score,label\n" : "timestamp,value,anomaly_score,label\n");
        int window = 0;
        Span<char> buffer = stackalloc char[64];
        for (int i = 0; i < file.RowCount; i++)
        {
            while (window < file.Windows.Count && file.Windows[window].End < i)
            {
                window++;
            }

            bool inside = window < file.Windows.Count && file.Windows[window].Start <= i;
            writer.Write(NabTimestamp.Format(series.Timestamps[i]));
            writer.Write(',');
            WriteNumber(writer, series.Values[i], buffer);
            writer.Write(',');
            WriteNumber(writer, anomalyScores[i], buffer);
            if (raw)
            {
                writer.Write(',');
                WriteNumber(writer, rawScores[i], buffer);
            }

            writer.Write(inside ? ",1\n" : ",0\n");
        }
    }

    /// <summary>Writes a result file (creating its folder) at <paramref name="path"/>; see <see cref="Write"/>.</summary>
    /// <param name="path">The destination file, normally <see cref="NabCorpus.ResultPath"/>.</param>
    /// <param name="file">The labelled file with its series.</param>
    /// <param name="anomalyScores">One score per row.</param>
    /// <param name="rawScores">One raw score per row, or <see langword="null"/> to omit the column.</param>
    public static void WriteFile(string path, NabLabeledFile file, double[] anomalyScores, double[]? rawScores = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? folder = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        using var writer = new StreamWriter(path);
        Write(writer, file, anomalyScores, rawScores);
    }

    private static void WriteNumber(TextWriter writer, double value, Span<char> buffer)
    {
        if (!value.TryFormat(buffer, out int written, NumberFormat, CultureInfo.InvariantCulture))
        {
            writer.Write(value.ToString(NumberFormat, CultureInfo.InvariantCulture));
            return;
        }

        writer.Write(buffer[..written]);
    }
}
