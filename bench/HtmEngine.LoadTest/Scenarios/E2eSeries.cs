using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// The values the e2e and cadence scenarios stream and the range each metric is monitored with: a synthetic daily wave
/// with noise per metric (<c>wave</c>, the default), or rows of the NAB corpus's data files (<c>nab</c>).
/// </summary>
/// <remarks>
/// The wave (a 60-unit sine with 5 units of uniform noise, monitored over 0–100, so a resolution of ~0.77 and noise
/// across ~6 buckets) is close to the worst case for the temporal memory: almost no step is predicted, so nearly
/// every column bursts and the model grows ~28 segments per step over its first hundred rows. The NAB files are the
/// real metrics the model was tuned on (machine temperatures, CPU, request latencies, traffic, tweet counts). With
/// <c>nab</c>, metric <c>m</c> streams file <c>m mod F</c> (the F files in sorted path order) starting at row
/// <c>(m div F) × 97</c>, wrapping to the file's start when it runs out, and is monitored with the file's padded
/// range (<see cref="NabCorpusRunner.PaddedRange"/>), as NAB runs the model.
/// </remarks>
internal sealed class E2eSeries
{
    private readonly NabSeries[] _files;
    private readonly (double Min, double Max)[] _ranges;

    private E2eSeries(string name, NabSeries[] files)
    {
        Name = name;
        _files = files;
        _ranges = new (double, double)[files.Length];
        for (int f = 0; f < files.Length; f++)
        {
            _ranges[f] = NabCorpusRunner.PaddedRange(files[f]);
        }
    }

    /// <summary>What the run streams, for its first line.</summary>
    public string Name { get; }

    /// <summary>The series named by <c>--series</c>.</summary>
    /// <param name="name"><c>wave</c> or <c>nab</c>.</param>
    /// <param name="nabData">The NAB corpus's <c>data</c> directory (<c>--nab-data</c>); null for <c>../shared/nab/data</c> beside the repository.</param>
    /// <returns>The series.</returns>
    /// <exception cref="ArgumentException">An unknown name, or a NAB directory that is missing or holds no CSV file.</exception>
    public static E2eSeries Create(string name, string? nabData)
    {
        switch (name)
        {
            case "wave":
                return new E2eSeries("wave", []);
            case "nab":
                string directory = nabData ?? LocateNabData();
                if (!Directory.Exists(directory))
                {
                    throw new ArgumentException($"NAB data directory '{directory}' does not exist (give it with --nab-data DIR)");
                }

                string[] paths = Directory.GetFiles(directory, "*.csv", SearchOption.AllDirectories);
                Array.Sort(paths, StringComparer.Ordinal);
                if (paths.Length == 0)
                {
                    throw new ArgumentException($"--nab-data: no .csv file under '{directory}'");
                }

                var files = new NabSeries[paths.Length];
                for (int f = 0; f < paths.Length; f++)
                {
                    files[f] = NabCsv.ReadSeries(paths[f], Path.GetRelativePath(directory, paths[f]));
                }

                return new E2eSeries($"nab ({paths.Length} files of {directory})", files);
            default:
                throw new ArgumentException($"--series must be wave or nab, got '{name}'");
        }
    }

    /// <summary>The value of <paramref name="metric"/> at row <paramref name="row"/>.</summary>
    public double Value(int metric, int row)
    {
        if (_files.Length == 0)
        {
            return Wave(metric, row);
        }

        double[] values = _files[metric % _files.Length].Values;
        long start = (long)(metric / _files.Length) * 97;
        return values[(int)((start + row) % values.Length)];
    }

    /// <summary>The min and max <paramref name="metric"/> is monitored with.</summary>
    public (double Min, double Max) Range(int metric) => _files.Length == 0 ? (0, 100) : _ranges[metric % _files.Length];

    /// <summary>The wave's value of <paramref name="metric"/> at row <paramref name="row"/>: a daily sine per metric with deterministic noise.</summary>
    internal static double Wave(int metric, int row)
    {
        uint h = (uint)((metric * 7919) + (row * 104729));
        h ^= h >> 13;
        h *= 0x5bd1e995;
        h ^= h >> 15;
        double noise = (h % 1000) / 1000.0;
        return Math.Round(50 + (30 * Math.Sin(((row + (metric * 17)) * 2 * Math.PI) / 288)) + (5 * noise), 2);
    }

    // The corpus sits beside the repository (../shared/nab/data), as in this project's layout.
    private static string LocateNabData() =>
        Path.GetFullPath(Path.Combine(EndToEndScenario.RepositoryRoot(), "..", "shared", "nab", "data"));
}
