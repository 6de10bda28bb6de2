namespace HtmEngine.Server.Commands;

/// <summary>The list of subcommands. To add one, write a class implementing <see cref="ICommand"/> and add one line here.</summary>
public static class CommandRegistry
{
    /// <summary>Every command, in the order <c>htmengine --help</c> lists them.</summary>
    public static IReadOnlyList<ICommand> All { get; } =
    [
        new ServeCommand(),
        new ConfigCommand(),
    ];

    /// <summary>Finds a command by its exact name.</summary>
    public static ICommand? Find(string name) => All.FirstOrDefault(c => c.Name == name);
}
