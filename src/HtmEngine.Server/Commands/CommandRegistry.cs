namespace HtmEngine.Server.Commands;

/// <summary>The list of subcommands. To add one, write a class implementing <see cref="ICommand"/> and add one line here.</summary>
public static class CommandRegistry
{
    /// <summary>Every command, in the order <c>htmengine --help</c> lists them.</summary>
    public static IReadOnlyList<ICommand> All { get; } =
    [
        new ServeCommand(),
        new ConfigCommand(),
        new DetectCommand(),
        new NabCommand(),
        new Client.MetricsCommand(),
        new Client.MonitorCommand(),
        new Client.UnmonitorCommand(),
        new Client.DeleteCommand(),
        new Client.DataCommand(),
        new Client.ExportCommand(),
        new Client.ImportCommand(),
        new Client.SendCommand(),
        new Client.ResultsCommand(),
    ];

    /// <summary>Finds a command by its exact name.</summary>
    public static ICommand? Find(string name) => All.FirstOrDefault(c => c.Name == name);
}
