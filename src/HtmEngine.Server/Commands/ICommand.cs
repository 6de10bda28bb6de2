namespace HtmEngine.Server.Commands;

/// <summary>
/// One <c>htmengine</c> subcommand. Implementations live in this folder and are listed once in
/// <see cref="CommandRegistry.All"/>.
/// </summary>
public interface ICommand
{
    /// <summary>The word that selects the command, e.g. <c>serve</c>.</summary>
    string Name { get; }

    /// <summary>One line for the <c>htmengine --help</c> list.</summary>
    string Summary { get; }

    /// <summary>The full text of <c>htmengine NAME --help</c>: usage, options, what it does.</summary>
    string Help { get; }

    /// <summary>
    /// Runs the command with the arguments after its name. Returns the exit code: 0 success,
    /// 1 failure (for example a bad configuration), 2 usage error.
    /// </summary>
    int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr);
}
