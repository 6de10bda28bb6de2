using HtmEngine.LoadTest.Scenarios;

namespace HtmEngine.LoadTest;

/// <summary>Runs one end-to-end scenario named by the first argument.</summary>
public static class Program
{
    // To add a scenario: write a class implementing IScenario under Scenarios/ and list it here.
    private static readonly IScenario[] s_scenarios =
    [
        new GraphiteScenario(),
        new BusScenario(),
        new StorerScenario(),
        new SwapScenario(),
        new EndToEndScenario(),
        new CadenceScenario(),
    ];

    /// <summary>Entry point.</summary>
    /// <param name="args">The scenario name, then its options (<c>--name value</c> or <c>--flag</c>).</param>
    /// <returns>0 on success, 2 on a usage error, 1 when the scenario failed.</returns>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintUsage(Console.Out);
            return args.Length == 0 ? 2 : 0;
        }

        // The storage scenario parses its own options (it predates the registry).
        if (args[0] == "storage")
        {
            return await StorageScenario.RunAsync(args[1..]).ConfigureAwait(false);
        }

        IScenario? scenario = Array.Find(s_scenarios, s => string.Equals(s.Name, args[0], StringComparison.OrdinalIgnoreCase));
        if (scenario is null)
        {
            Console.Error.WriteLine($"unknown scenario '{args[0]}'");
            PrintUsage(Console.Error);
            return 2;
        }

        if (Array.IndexOf(args, "--help", 1) >= 0 || Array.IndexOf(args, "-h", 1) >= 0)
        {
            Console.Out.WriteLine(scenario.Usage);
            return 0;
        }

        ScenarioArguments options;
        try
        {
            options = ScenarioArguments.Parse(args.AsSpan(1));
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(scenario.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        try
        {
            return await scenario.RunAsync(options, Console.Out, cancel.Token).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(scenario.Usage);
            return 2;
        }
    }

    private static void PrintUsage(TextWriter writer)
    {
        writer.WriteLine("usage: HtmEngine.LoadTest <scenario> [options]");
        writer.WriteLine("scenarios:");
        foreach (IScenario scenario in s_scenarios)
        {
            writer.WriteLine($"  {scenario.Name,-10} {scenario.Description}");
            writer.WriteLine($"             {scenario.Usage}");
        }

        writer.WriteLine("  storage    sustained sample inserts into MariaDB or SQLite; last line rows_per_s=<n>");
        writer.WriteLine("             storage --backend mysql|sqlite [--seconds 10] (see StorageScenario.cs for more)");
    }
}
