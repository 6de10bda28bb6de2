namespace HtmEngine.Nab.Scoring;

/// <summary>
/// A problem with NAB input data (corpus, labels, profiles, thresholds or detector results).
/// The message always names the file, and the line when one is known.
/// </summary>
public class NabDataException : Exception
{
    /// <summary>Creates an exception about <paramref name="filePath"/>, optionally at a 1-based line.</summary>
    /// <param name="filePath">The file the problem was found in.</param>
    /// <param name="lineNumber">The 1-based line number, or <see langword="null"/> when not applicable.</param>
    /// <param name="detail">What is wrong.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public NabDataException(string filePath, int? lineNumber, string detail, Exception? inner = null)
        : base(Format(filePath, lineNumber, detail), inner)
    {
        FilePath = filePath;
        LineNumber = lineNumber;
        Detail = detail;
    }

    /// <summary>The file the problem was found in.</summary>
    public string FilePath { get; }

    /// <summary>The 1-based line number of the problem, when it concerns one line.</summary>
    public int? LineNumber { get; }

    /// <summary>The description of the problem without the file and line prefix.</summary>
    public string Detail { get; }

    private static string Format(string filePath, int? lineNumber, string detail) =>
        lineNumber is int line ? $"{filePath}:{line}: {detail}" : $"{filePath}: {detail}";
}

/// <summary>A value in a file could not be parsed (timestamp, number, JSON, missing column).</summary>
public sealed class NabFormatException : NabDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file the problem was found in.</param>
    /// <param name="lineNumber">The 1-based line number, or <see langword="null"/>.</param>
    /// <param name="detail">What is wrong.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public NabFormatException(string filePath, int? lineNumber, string detail, Exception? inner = null)
        : base(filePath, lineNumber, detail, inner)
    {
    }
}

/// <summary>A file that the labels or the file list refer to does not exist.</summary>
public sealed class NabMissingFileException : NabDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The missing file.</param>
    /// <param name="detail">Who refers to it and why it is needed.</param>
    public NabMissingFileException(string filePath, string detail)
        : base(filePath, null, detail)
    {
    }
}

/// <summary>A detector result file does not have one row per data row.</summary>
public sealed class NabRowCountException : NabDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The result file.</param>
    /// <param name="lineNumber">The line at which the mismatch became visible.</param>
    /// <param name="expectedRows">Rows in the data file.</param>
    /// <param name="actualRows">Rows in the result file.</param>
    /// <param name="dataFilePath">The data file it was compared with.</param>
    public NabRowCountException(string filePath, int? lineNumber, int expectedRows, int actualRows, string dataFilePath)
        : base(filePath, lineNumber, $"has {actualRows} data rows but the data file {dataFilePath} has {expectedRows}; NAB matches rows by position, so the counts must be equal")
    {
        ExpectedRows = expectedRows;
        ActualRows = actualRows;
    }

    /// <summary>Rows in the data file.</summary>
    public int ExpectedRows { get; }

    /// <summary>Rows in the result file.</summary>
    public int ActualRows { get; }
}

/// <summary>A label window is inconsistent with its data file (boundary not found, reversed, too narrow, …).</summary>
public sealed class NabLabelException : NabDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The labels file.</param>
    /// <param name="detail">What is wrong, naming the labelled data file and window.</param>
    public NabLabelException(string filePath, string detail)
        : base(filePath, null, detail)
    {
    }
}
