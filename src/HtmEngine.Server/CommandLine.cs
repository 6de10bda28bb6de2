namespace HtmEngine.Server;

/// <summary>Dispatches <c>htmengine</c> subcommands.</summary>
public static class CommandLine
{
    /// <summary>Runs one command line; returns the exit code (0 success, 2 usage error).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.Write(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        stderr.WriteLine($"htmengine: unknown command '{args[0]}'. Run 'htmengine --help' for the list.");
        return 2;
    }

    private const string Usage = """
        Usage: htmengine <command> [options]

        Commands:
          help        Show this text.

        Run 'htmengine <command> --help' for a command's options.

        """;
}
