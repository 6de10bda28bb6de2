using System.Globalization;

namespace HtmEngine.Nab.Scoring;

/// <summary>One NAB corpus series: the rows of <c>data/&lt;category&gt;/&lt;file&gt;.csv</c>.</summary>
/// <param name="Name">The path relative to the corpus <c>data</c> folder, with <c>/</c> separators (e.g. <c>realTweets/Twitter_volume_AAPL.csv</c>).</param>
/// <param name="Timestamps">The timestamp of each row (not necessarily unique or sorted).</param>
/// <param name="Values">The value of each row.</param>
public sealed record NabSeries(string Name, DateTime[] Timestamps, double[] Values)
{
    /// <summary>The number of rows.</summary>
    public int Length => Timestamps.Length;
}

/// <summary>Readers for NAB's CSV files: corpus series and detector result files.</summary>
public static class NabCsv
{
    /// <summary>Reads a corpus file with header <c>timestamp,value</c> (column order free, extra columns ignored).</summary>
    /// <param name="path">The CSV file.</param>
    /// <param name="name">The relative name to give the series.</param>
    /// <returns>The series.</returns>
    /// <exception cref="NabDataException">The file is missing, lacks a column, or has an unparsable row.</exception>
    public static NabSeries ReadSeries(string path, string name)
    {
        if (!File.Exists(path))
        {
            throw new NabMissingFileException(path, $"data file for '{name}' not found");
        }

        using var reader = new StreamReader(path);
        string? header = reader.ReadLine() ?? throw new NabFormatException(path, 1, "empty file; expected a header 'timestamp,value'");
        string[] columns = header.Split(',');
        int timestampColumn = Column(path, columns, "timestamp");
        int valueColumn = Column(path, columns, "value");

        var timestamps = new List<DateTime>();
        var values = new List<double>();
        int lineNumber = 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            ReadOnlySpan<char> ts = Field(path, lineNumber, line, timestampColumn);
            if (!NabTimestamp.TryParse(ts, out DateTime timestamp))
            {
                throw new NabFormatException(path, lineNumber, $"unparsable timestamp '{ts}' (expected yyyy-MM-dd HH:mm:ss)");
            }

            ReadOnlySpan<char> vs = Field(path, lineNumber, line, valueColumn);
            if (!double.TryParse(vs, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                throw new NabFormatException(path, lineNumber, $"unparsable value '{vs}'");
            }

            if (!double.IsFinite(value))
            {
                throw new NabFormatException(path, lineNumber, $"value '{vs}' is not a finite number");
            }

            timestamps.Add(timestamp);
            values.Add(value);
        }

        return new NabSeries(name, [.. timestamps], [.. values]);
    }

    /// <summary>
    /// Reads the <c>anomaly_score</c> column of a detector result file
    /// (<c>timestamp,value,anomaly_score,…</c>; other columns, including <c>label</c>, are ignored as NAB ignores them).
    /// </summary>
    /// <param name="path">The result CSV.</param>
    /// <param name="expectedRows">The row count of the matching data file, or a negative number to skip the check.</param>
    /// <param name="dataFilePath">The matching data file, named in a row-count error.</param>
    /// <returns>The anomaly score of each row.</returns>
    /// <exception cref="NabDataException">The file is missing, has no <c>anomaly_score</c> column, has a non-finite or unparsable score, or the wrong row count.</exception>
    public static double[] ReadAnomalyScores(string path, int expectedRows = -1, string dataFilePath = "") =>
        ReadScoreColumn(path, "anomaly_score", expectedRows, dataFilePath);

    /// <summary>
    /// Reads one numeric column of a NAB result CSV by its header name (e.g. <c>raw_score</c>), with the same checks
    /// as <see cref="ReadAnomalyScores"/>.
    /// </summary>
    /// <param name="path">The result CSV.</param>
    /// <param name="column">The column's header name.</param>
    /// <param name="expectedRows">The row count of the matching data file, or a negative number to skip the check.</param>
    /// <param name="dataFilePath">The matching data file, named in a row-count error.</param>
    /// <returns>The column's value in each row.</returns>
    /// <exception cref="NabDataException">The file is missing, has no such column, has a non-finite or unparsable value, or the wrong row count.</exception>
    public static double[] ReadScoreColumn(string path, string column, int expectedRows = -1, string dataFilePath = "")
    {
        ArgumentNullException.ThrowIfNull(column);
        if (!File.Exists(path))
        {
            throw new NabMissingFileException(path, "detector result file not found");
        }

        using var reader = new StreamReader(path);
        string? header = reader.ReadLine() ?? throw new NabFormatException(path, 1, "empty file; expected a header 'timestamp,value,anomaly_score,…'");
        int scoreColumn = Column(path, header.Split(','), column);

        var scores = expectedRows > 0 ? new List<double>(expectedRows) : [];
        int lineNumber = 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            if (expectedRows >= 0 && scores.Count == expectedRows)
            {
                int firstExtraLine = lineNumber;
                int extra = scores.Count + 1;
                while ((line = reader.ReadLine()) is not null)
                {
                    if (line.Length > 0)
                    {
                        extra++;
                    }
                }

                throw new NabRowCountException(path, firstExtraLine, expectedRows, extra, dataFilePath);
            }

            ReadOnlySpan<char> text = Field(path, lineNumber, line, scoreColumn);
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double score))
            {
                throw new NabFormatException(path, lineNumber, $"unparsable {column} '{text}'");
            }

            if (!double.IsFinite(score))
            {
                throw new NabFormatException(path, lineNumber, $"{column} '{text}' is not finite; NAB needs scores in [0, 1]");
            }

            scores.Add(score);
        }

        if (expectedRows >= 0 && scores.Count != expectedRows)
        {
            throw new NabRowCountException(path, lineNumber, expectedRows, scores.Count, dataFilePath);
        }

        return [.. scores];
    }

    private static int Column(string path, string[] columns, string name)
    {
        for (int i = 0; i < columns.Length; i++)
        {
            if (columns[i].Trim().Trim('"') == name)
            {
                return i;
            }
        }

        throw new NabFormatException(path, 1, $"header has no '{name}' column (header: {string.Join(",", columns)})");
    }

    private static ReadOnlySpan<char> Field(string path, int lineNumber, string line, int column)
    {
        ReadOnlySpan<char> rest = line.AsSpan();
        for (int i = 0; i < column; i++)
        {
            int comma = rest.IndexOf(',');
            if (comma < 0)
            {
                throw new NabFormatException(path, lineNumber, $"row has fewer than {column + 1} columns");
            }

            rest = rest[(comma + 1)..];
        }

        int end = rest.IndexOf(',');
        return (end < 0 ? rest : rest[..end]).Trim();
    }
}
