using System.Text.Json;

namespace HtmEngine.Nab.Scoring;

/// <summary>Opens NAB's JSON inputs (labels, profiles, thresholds) with errors that name the file and line.</summary>
internal static class NabJson
{
    /// <summary>
    /// Parses <paramref name="path"/> and checks that its root is an object; the caller disposes the document.
    /// </summary>
    /// <param name="path">The JSON file.</param>
    /// <param name="what">What the file is, for the missing-file message (e.g. "labels file").</param>
    /// <param name="expected">What the root object should hold, for the wrong-shape message.</param>
    /// <exception cref="NabDataException">The file is missing, not valid JSON, or its root is not an object.</exception>
    public static JsonDocument ParseObject(string path, string what, string expected)
    {
        if (!File.Exists(path))
        {
            throw new NabMissingFileException(path, what + " not found");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new NabFormatException(path, (int?)ex.LineNumber + 1, $"not valid JSON: {ex.Message}", ex);
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new NabFormatException(path, null, expected);
        }

        return document;
    }
}
