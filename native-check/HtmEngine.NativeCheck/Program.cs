namespace HtmEngine.NativeCheck;

/// <summary>Writes a digest of a golden run to stdout; the test script compares AOT, JIT and scalar-only outputs.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main()
    {
        Console.WriteLine("native-check: no golden stream yet");
        return 0;
    }
}
