namespace HtmEngine.Nab.Scoring;

/// <summary>
/// A NAB corpus on disk: the labelled data files chosen for scoring, read and resolved to row
/// indices, plus helpers for NAB's results-directory layout.
/// </summary>
public sealed class NabCorpus
{
    private NabCorpus(string dataDirectory, string labelsPath, IReadOnlyList<NabLabeledFile> files)
    {
        DataDirectory = dataDirectory;
        LabelsPath = labelsPath;
        Files = files;
    }

    /// <summary>The corpus <c>data</c> folder.</summary>
    public string DataDirectory { get; }

    /// <summary>The labels file the windows came from.</summary>
    public string LabelsPath { get; }

    /// <summary>The files, sorted by relative path (ordinal), which is also the summation order.</summary>
    public IReadOnlyList<NabLabeledFile> Files { get; }

    /// <summary>
    /// Loads the labelled files: all files of the labels file, or only those in <paramref name="files"/>.
    /// </summary>
    /// <param name="dataDirectory">The corpus <c>data</c> folder (holds <c>&lt;category&gt;/&lt;file&gt;.csv</c>).</param>
    /// <param name="labelsPath">NAB's <c>combined_windows.json</c>.</param>
    /// <param name="files">Relative paths to score (each must be labelled), or <see langword="null"/> for every labelled file.</param>
    /// <param name="filesSource">The file the list came from, named in errors.</param>
    /// <returns>The corpus.</returns>
    /// <exception cref="NabDataException">A file is missing, unparsable, unlabelled, or its windows do not match its timestamps.</exception>
    public static NabCorpus Load(string dataDirectory, string labelsPath, IEnumerable<string>? files = null, string? filesSource = null)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(labelsPath);
        IReadOnlyDictionary<string, IReadOnlyList<NabLabelWindow>> labels = NabLabels.Load(labelsPath);
        var names = new List<string>();
        if (files is null)
        {
            names.AddRange(labels.Keys);
        }
        else
        {
            foreach (string raw in files)
            {
                string name = raw.Replace('\\', '/');
                if (!labels.ContainsKey(name))
                {
                    throw new NabLabelException(filesSource ?? labelsPath, $"'{name}' has no entry in the labels file {labelsPath}");
                }

                if (!names.Contains(name, StringComparer.Ordinal))
                {
                    names.Add(name);
                }
            }
        }

        names.Sort(StringComparer.Ordinal);
        var loaded = new NabLabeledFile[names.Count];
        for (int k = 0; k < names.Count; k++)
        {
            string name = names[k];
            string path = Path.Combine(dataDirectory, name);
            if (!File.Exists(path))
            {
                throw new NabMissingFileException(path, $"data file of '{name}', labelled in {labelsPath}, not found");
            }

            NabSeries series = NabCsv.ReadSeries(path, name);
            loaded[k] = NabLabeledFile.FromLabels(series, labels[name], labelsPath);
        }

        return new NabCorpus(dataDirectory, labelsPath, loaded);
    }

    /// <summary>Reads a file list such as <c>dev-files.txt</c>: one relative path per line; blank lines and <c>#</c> comments are skipped.</summary>
    /// <param name="path">The list file.</param>
    /// <returns>The relative paths in file order.</returns>
    /// <exception cref="NabMissingFileException">The list does not exist.</exception>
    public static IReadOnlyList<string> ReadFileList(string path)
    {
        if (!File.Exists(path))
        {
            throw new NabMissingFileException(path, "file list not found");
        }

        return [.. File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    /// <summary>
    /// The path of a detector's result file in NAB's layout:
    /// <c>&lt;detectorDirectory&gt;/&lt;category&gt;/&lt;detector&gt;_&lt;file&gt;.csv</c>.
    /// </summary>
    /// <param name="detectorDirectory">The detector's folder (e.g. <c>results/numenta</c>).</param>
    /// <param name="detector">The detector's name.</param>
    /// <param name="file">The data file's relative path.</param>
    /// <returns>The result file's path.</returns>
    public static string ResultPath(string detectorDirectory, string detector, string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        int slash = file.LastIndexOf('/');
        string category = slash < 0 ? "" : file[..slash];
        string leaf = slash < 0 ? file : file[(slash + 1)..];
        return Path.Combine(detectorDirectory, category, detector + "_" + leaf);
    }

    /// <summary>Reads a detector's anomaly scores for every file of the corpus, in <see cref="Files"/> order.</summary>
    /// <param name="detectorDirectory">The detector's folder (e.g. <c>results/numenta</c>).</param>
    /// <param name="detector">The detector's name (the result files' prefix).</param>
    /// <returns>One score array per file.</returns>
    /// <exception cref="NabDataException">A result file is missing, unparsable, or has the wrong row count.</exception>
    public double[][] ReadResults(string detectorDirectory, string detector)
    {
        var scores = new double[Files.Count][];
        for (int f = 0; f < Files.Count; f++)
        {
            NabLabeledFile file = Files[f];
            string path = ResultPath(detectorDirectory, detector, file.Name);
            if (!File.Exists(path))
            {
                throw new NabMissingFileException(path, $"result file of detector '{detector}' for labelled file '{file.Name}' not found");
            }

            scores[f] = NabCsv.ReadAnomalyScores(path, file.RowCount, Path.Combine(DataDirectory, file.Name));
        }

        return scores;
    }

    /// <summary>Creates a scorer for these files.</summary>
    /// <param name="profiles">The profiles, NAB's three by default.</param>
    /// <returns>The scorer.</returns>
    public NabScorer CreateScorer(IReadOnlyList<NabProfile>? profiles = null) => new(Files, profiles);
}
