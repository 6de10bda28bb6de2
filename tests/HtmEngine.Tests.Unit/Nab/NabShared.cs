namespace HtmEngine.Tests.Unit.Nab;

/// <summary>Locates the shared NAB data (a sibling <c>shared/nab</c> of the repository clone).</summary>
internal static class NabShared
{
    private static readonly Lazy<string> s_root = new(Find);

    public static string Root => s_root.Value;

    public static string Tiny => Path.Combine(Root, "vectors", "tiny");

    public static string Path_(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "nab");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }

            dir = dir.Parent;
        }

        throw new InvalidOperationException(
            $"The shared NAB data was not found: no folder 'shared/nab' in {AppContext.BaseDirectory} or any parent. "
            + "Clone the repository next to the 'shared' folder (e.g. /work/wt/<clone> with /work/shared/nab).");
    }
}
