using System.Globalization;
using HtmEngine.Core.Encoders;

namespace HtmEngine.Benchmarks.Htm;

/// <summary>Pre-encodes the head of a NAB file the way the NAB model would (resolution from the padded min/max / 130).</summary>
internal static class NabStream
{
    public const string RelativePath = "shared/nab/data/realKnownCause/machine_temperature_system_failure.csv";

    /// <summary>Finds the file: HTM_BENCH_CSV, else the first ancestor of the working or base directory that holds it.</summary>
    public static string Locate()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("HTM_BENCH_CSV");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, RelativePath);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException("Set HTM_BENCH_CSV to " + RelativePath + ".");
    }

    /// <summary>Encodes the first <paramref name="rows"/> records into packed inputs (8 words each).</summary>
    public static ulong[][] Encode(int rows)
    {
        var timestamps = new List<DateTime>();
        var values = new List<double>();
        foreach (string line in File.ReadLines(Locate()).Skip(1))
        {
            string[] parts = line.Split(',');
            timestamps.Add(DateTime.ParseExact(parts[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
            values.Add(double.Parse(parts[1], CultureInfo.InvariantCulture));
        }

        double min = values.Min();
        double max = values.Max();
        double padding = Math.Abs(max - min) * 0.2;
        double low = min - padding;
        double high = max + padding;
        if (low == high)
        {
            high = low + 1;
        }

        var encoder = new MetricEncoder(Math.Max(0.001, (high - low) / 130));
        int count = Math.Min(rows, values.Count);
        var inputs = new ulong[count][];
        for (int i = 0; i < count; i++)
        {
            inputs[i] = new ulong[encoder.WordCount];
            encoder.Encode(timestamps[i], values[i], inputs[i]);
        }

        return inputs;
    }
}
