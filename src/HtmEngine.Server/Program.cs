namespace HtmEngine.Server;

/// <summary>Entry point of the <c>htmengine</c> executable.</summary>
public static class Program
{
    /// <summary>Runs the command named by <paramref name="args"/> and returns the process exit code.</summary>
    public static int Main(string[] args) => CommandLine.Run(args, Console.Out, Console.Error);
}
