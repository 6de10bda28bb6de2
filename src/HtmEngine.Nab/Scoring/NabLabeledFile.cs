namespace HtmEngine.Nab.Scoring;

/// <summary>A labelled window in row indices: rows <see cref="Start"/> to <see cref="End"/>, both inclusive.</summary>
/// <param name="Start">The index of the row whose timestamp is the window's start.</param>
/// <param name="End">The index of the row whose timestamp is the window's end.</param>
public readonly record struct NabWindow(int Start, int End)
{
    /// <summary>The number of rows in the window.</summary>
    public int Width => End - Start + 1;
}

/// <summary>
/// One corpus file as the scorer sees it: its row count and its windows in row indices.
/// Detector scores are matched with it by row position.
/// </summary>
public sealed class NabLabeledFile
{
    /// <summary>Creates a labelled file from windows given in row indices.</summary>
    /// <param name="name">The relative path of the data file (e.g. <c>realTweets/Twitter_volume_AAPL.csv</c>).</param>
    /// <param name="rowCount">The number of rows.</param>
    /// <param name="windows">The windows: sorted, disjoint, inside the file, at least two rows wide unless the window ends on the last row.</param>
    /// <param name="series">The series the file was read from, if any.</param>
    /// <exception cref="ArgumentException">A window is out of range, reversed, overlapping, out of order, or one row wide before the end of the file (NAB divides by zero there).</exception>
    public NabLabeledFile(string name, int rowCount, IReadOnlyList<NabWindow> windows, NabSeries? series = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        string? problem = Validate(rowCount, windows);
        if (problem is not null)
        {
            throw new ArgumentException($"'{name}': {problem}", nameof(windows));
        }

        Name = name;
        RowCount = rowCount;
        Windows = [.. windows];
        Series = series;
        ProbationaryLength = NabScoring.ProbationaryLength(rowCount);
    }

    /// <summary>The relative path of the data file, with <c>/</c> separators.</summary>
    public string Name { get; }

    /// <summary>The number of rows (and of detector scores expected).</summary>
    public int RowCount { get; }

    /// <summary>The labelled windows in row indices, in file order.</summary>
    public IReadOnlyList<NabWindow> Windows { get; }

    /// <summary>NAB's probationary period: rows with a smaller index are not scored.</summary>
    public int ProbationaryLength { get; }

    /// <summary>The series (timestamps and values) when the file was loaded from a corpus.</summary>
    public NabSeries? Series { get; }

    /// <summary>
    /// Resolves label windows (timestamps) to row indices as NAB does: each boundary must equal the
    /// timestamp of exactly one row.
    /// </summary>
    /// <param name="series">The data file.</param>
    /// <param name="windows">Its windows from the labels file.</param>
    /// <param name="labelsPath">The labels file, named in errors.</param>
    /// <returns>The labelled file.</returns>
    /// <exception cref="NabLabelException">A boundary matches no row or several rows, or the windows are inconsistent.</exception>
    public static NabLabeledFile FromLabels(NabSeries series, IReadOnlyList<NabLabelWindow> windows, string labelsPath)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(windows);
        var resolved = new NabWindow[windows.Count];
        for (int k = 0; k < windows.Count; k++)
        {
            int s = Find(series, windows[k].Start, labelsPath, k, "start");
            int e = Find(series, windows[k].End, labelsPath, k, "end");
            resolved[k] = new NabWindow(s, e);
        }

        string? problem = Validate(series.Length, resolved);
        if (problem is not null)
        {
            throw new NabLabelException(labelsPath, $"'{series.Name}': {problem}");
        }

        return new NabLabeledFile(series.Name, series.Length, resolved, series);
    }

    private static int Find(NabSeries series, DateTime timestamp, string labelsPath, int k, string which)
    {
        int found = -1;
        int count = 0;
        DateTime[] ts = series.Timestamps;
        for (int i = 0; i < ts.Length; i++)
        {
            if (ts[i] == timestamp)
            {
                if (count == 0)
                {
                    found = i;
                }

                count++;
            }
        }

        if (count != 1)
        {
            throw new NabLabelException(
                labelsPath,
                $"'{series.Name}' window {k}: {which} {NabTimestamp.Format(timestamp)} matches {count} rows of the data file (NAB needs exactly one)");
        }

        return found;
    }

    private static string? Validate(int rowCount, IReadOnlyList<NabWindow> windows)
    {
        int previousEnd = -1;
        for (int k = 0; k < windows.Count; k++)
        {
            NabWindow w = windows[k];
            if (w.Start < 0 || w.End >= rowCount)
            {
                return $"window {k} (rows {w.Start}..{w.End}) lies outside the file's {rowCount} rows";
            }

            if (w.End < w.Start)
            {
                return $"window {k} ends (row {w.End}) before it starts (row {w.Start})";
            }

            if (w.Start <= previousEnd)
            {
                return $"window {k} (rows {w.Start}..{w.End}) overlaps or precedes the previous window";
            }

            if (w.Width == 1 && w.End < rowCount - 1)
            {
                return $"window {k} is one row wide; NAB's false-positive weight after it divides by zero";
            }

            previousEnd = w.End;
        }

        return null;
    }
}
