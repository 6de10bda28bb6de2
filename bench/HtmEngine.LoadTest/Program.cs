namespace HtmEngine.LoadTest;

/// <summary>Runs one end-to-end scenario named by the first argument.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Console.Error.WriteLine("usage: HtmEngine.LoadTest <scenario> [options]; no scenario exists yet");
        return 2;
    }
}
