using HtmEngine.Core.Models;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Nab.Running;

/// <summary>What <see cref="NabCorpusRunner"/> runs: which files, which model, where results go.</summary>
public sealed record NabRunOptions
{
    /// <summary>NAB's <c>data</c> folder (category sub-folders of <c>timestamp,value</c> CSVs).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>NAB's <c>combined_windows.json</c>.</summary>
    public required string LabelsPath { get; init; }

    /// <summary>Relative paths of the files to run, or null for every file the labels name.</summary>
    public IReadOnlyList<string>? Files { get; init; }

    /// <summary>Where <see cref="Files"/> came from, for error messages.</summary>
    public string? FilesSource { get; init; }

    /// <summary>Root of the NAB-format result files, or null to keep results in memory only.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Detector name used in result paths and reports (no '_' or '.', as NAB requires).</summary>
    public string Detector { get; init; } = "htmengine";

    /// <summary>
    /// Parameter set name (see <see cref="ModelParameters.SetNames"/>); by default the original engine's template,
    /// the model the engine runs (use <see cref="ModelParameters.NabSetName"/> with <see cref="NabDetectorOptions.NuPic"/>
    /// for NAB's "numenta" detector exactly).
    /// </summary>
    public string ParameterSet { get; init; } = ModelParameters.HtmEngine034SetName;

    /// <summary>Which temporal memory the models run.</summary>
    public TemporalMemoryKind TemporalMemory { get; init; } = TemporalMemoryKind.Backtracking;

    /// <summary>How the detector turns raw anomaly into its final score (ensemble, likelihood, refractory period).</summary>
    public NabDetectorOptions Detection { get; init; } = NabDetectorOptions.Default;

    /// <summary>
    /// A detector's result folder (<c>DIR/&lt;category&gt;/&lt;name&gt;_&lt;file&gt;.csv</c>, named after its last path
    /// component) whose <c>raw_score</c> column is replayed instead of running the model: only the steps after
    /// the model (likelihood, spatial rule, refractory period) run. Null: run the model.
    /// </summary>
    public string? ReplayDirectory { get; init; }

    /// <summary>How many files run at once.</summary>
    public int Jobs { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Scores one file instead of the bare model (e.g. <c>htmengine nab --mode engine</c>: the file through the whole
    /// engine); null runs <see cref="NabDetector"/>. Its scores are written and scored exactly like the bare model's;
    /// <see cref="ParameterSet"/>, <see cref="TemporalMemory"/> and <see cref="Detection"/> are then the runner's
    /// business, and <see cref="ReplayDirectory"/> must be null.
    /// </summary>
    public NabFileRunner? FileRunner { get; init; }
}

/// <summary>Scores one corpus file: one final and one raw score per row, in row order.</summary>
/// <param name="file">The file, loaded with its series.</param>
/// <param name="recordsDone">Report records finished (a count since the last call), for the progress line.</param>
/// <param name="cancellationToken">Stops the file.</param>
/// <returns>The final and raw scores, each of <see cref="NabLabeledFile.RowCount"/> values.</returns>
/// <exception cref="NabDataException">The file cannot be scored; the message names it.</exception>
public delegate (double[] Scores, double[] RawScores) NabFileRunner(NabLabeledFile file, Action<int> recordsDone, CancellationToken cancellationToken);
