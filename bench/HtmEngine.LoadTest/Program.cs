namespace HtmEngine.LoadTest;

/// <summary>Runs one end-to-end scenario named by the first argument.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0] == "storage")
        {
            return await StorageScenario.RunAsync(args[1..]).ConfigureAwait(false);
        }

        Console.Error.WriteLine("usage: HtmEngine.LoadTest <scenario> [options]; scenarios: storage");
        return 2;
    }
}
