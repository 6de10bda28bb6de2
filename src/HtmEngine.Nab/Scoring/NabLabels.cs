using System.Text.Json;

namespace HtmEngine.Nab.Scoring;

/// <summary>One labelled anomaly window as written in <c>combined_windows.json</c> (inclusive timestamps).</summary>
/// <param name="Start">The first timestamp of the window.</param>
/// <param name="End">The last timestamp of the window.</param>
public readonly record struct NabLabelWindow(DateTime Start, DateTime End);

/// <summary>Reads NAB's <c>combined_windows.json</c>: data file (relative path) to its list of windows.</summary>
public static class NabLabels
{
    /// <summary>Loads the windows of every labelled file, keeping the order of the JSON file.</summary>
    /// <param name="path">The labels file.</param>
    /// <returns>A map from the relative data-file path (with <c>/</c> separators) to its windows.</returns>
    /// <exception cref="NabDataException">The file is missing or malformed.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<NabLabelWindow>> Load(string path)
    {
        using (JsonDocument document = NabJson.ParseObject(path, "labels file", "expected a JSON object mapping data files to window lists"))
        {

            var result = new Dictionary<string, IReadOnlyList<NabLabelWindow>>(StringComparer.Ordinal);
            foreach (JsonProperty file in document.RootElement.EnumerateObject())
            {
                string key = file.Name.Replace('\\', '/');
                if (file.Value.ValueKind != JsonValueKind.Array)
                {
                    throw new NabFormatException(path, null, $"'{file.Name}': expected a list of [start, end] windows");
                }

                var windows = new List<NabLabelWindow>();
                int k = 0;
                foreach (JsonElement pair in file.Value.EnumerateArray())
                {
                    if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2)
                    {
                        throw new NabFormatException(path, null, $"'{file.Name}' window {k}: expected [start, end]");
                    }

                    DateTime start = Timestamp(path, file.Name, k, pair[0]);
                    DateTime end = Timestamp(path, file.Name, k, pair[1]);
                    windows.Add(new NabLabelWindow(start, end));
                    k++;
                }

                if (!result.TryAdd(key, windows))
                {
                    throw new NabFormatException(path, null, $"'{file.Name}' is listed twice");
                }
            }

            return result;
        }
    }

    private static DateTime Timestamp(string path, string file, int k, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.String || !NabTimestamp.TryParse(element.GetString(), out DateTime value))
        {
            throw new NabFormatException(path, null, $"'{file}' window {k}: {element.GetRawText()} is not a timestamp like \"2014-04-10 07:15:00.000000\"");
        }

        return value;
    }
}
