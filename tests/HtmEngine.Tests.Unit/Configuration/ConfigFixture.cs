namespace HtmEngine.Tests.Unit.Configuration;

/// <summary>A temporary copy of a configuration directory that a test may edit; deleted on dispose.</summary>
internal sealed class TempConfig : IDisposable
{
    private TempConfig(string root)
    {
        Root = root;
        Directory = Path.Combine(root, "conf");
    }

    /// <summary>The application root (parent of <see cref="Directory"/>).</summary>
    public string Root { get; }

    /// <summary>The configuration directory.</summary>
    public string Directory { get; }

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
        }
    }

    public static string ShippedConf => Path.Combine(RepositoryRoot, "conf");

    public static string TestConf => Path.Combine(RepositoryRoot, "tests", "conf");

    /// <summary>Copies the shipped conf/ (or <paramref name="source"/>) into a fresh temp directory.</summary>
    public static TempConfig CopyOf(string? source = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "htmengine-conf-" + Guid.NewGuid().ToString("N"));
        var config = new TempConfig(root);
        System.IO.Directory.CreateDirectory(config.Directory);
        foreach (var file in System.IO.Directory.GetFiles(source ?? ShippedConf, "*.conf"))
        {
            File.Copy(file, Path.Combine(config.Directory, Path.GetFileName(file)));
        }

        return config;
    }

    public string PathOf(string file) => Path.Combine(Directory, file + ".conf");

    /// <summary>Replaces the line starting with <paramref name="linePrefix"/>; returns its 1-based number.</summary>
    public int Replace(string file, string linePrefix, string newLine)
    {
        var lines = File.ReadAllLines(PathOf(file));
        int index = Array.FindIndex(lines, l => l.StartsWith(linePrefix, StringComparison.Ordinal));
        if (index < 0)
        {
            throw new InvalidOperationException($"no line starting with '{linePrefix}' in {file}.conf");
        }

        lines[index] = newLine;
        File.WriteAllLines(PathOf(file), lines);
        return index + 1;
    }

    /// <summary>Appends lines; returns the 1-based number of the first appended line.</summary>
    public int Append(string file, params string[] newLines)
    {
        var lines = File.ReadAllLines(PathOf(file)).ToList();
        int first = lines.Count + 1;
        lines.AddRange(newLines);
        File.WriteAllLines(PathOf(file), lines);
        return first;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless; never fail a test on cleanup.
        }
    }
}
