using HtmEngine.Server.Commands;

namespace HtmEngine.Server;

/// <summary>Dispatches <c>htmengine</c> subcommands listed in <see cref="CommandRegistry"/>.</summary>
public static class CommandLine
{
    /// <summary>Runs one command line; returns the exit code (0 success, 1 failure, 2 usage error).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args.Length == 0)
        {
            // No command is a usage error, but the list of commands is the most useful answer.
            stderr.Write(Usage());
            return 2;
        }

        if (args[0] is "-h" or "--help" or "help")
        {
            if (args.Length > 1 && args[0] == "help")
            {
                // `htmengine help serve` is the same as `htmengine serve --help`.
                return Run([args[1], "--help"], stdout, stderr);
            }

            stdout.Write(Usage());
            return 0;
        }

        if (CommandRegistry.Find(args[0]) is { } command)
        {
            return command.Run(args[1..], stdout, stderr);
        }

        var what = args[0].StartsWith('-') ? "option" : "command";
        stderr.WriteLine($"htmengine: unknown {what} '{args[0]}'. Run 'htmengine --help' for the list.");
        return 2;
    }

    /// <summary>The text of <c>htmengine --help</c>, built from the registry.</summary>
    public static string Usage()
    {
        var width = Math.Max(8, CommandRegistry.All.Max(c => c.Name.Length)) + 2;
        var lines = CommandRegistry.All.Select(c => $"  {c.Name.PadRight(width)}{c.Summary}");
        return $"""
            Usage: htmengine <command> [options]

            Commands:
            {string.Join(Environment.NewLine, lines)}
              {"help".PadRight(width)}Show this text; 'htmengine help CMD' shows a command's help.

            Run 'htmengine <command> --help' for a command's options.

            """;
    }
}
