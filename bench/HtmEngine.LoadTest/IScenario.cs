namespace HtmEngine.LoadTest;

/// <summary>One end-to-end load scenario, selected by name on the command line.</summary>
public interface IScenario
{
    /// <summary>The name given as the first argument.</summary>
    string Name { get; }

    /// <summary>One line on what it measures.</summary>
    string Description { get; }

    /// <summary>Its options, for the usage text.</summary>
    string Usage { get; }

    /// <summary>Runs the scenario. Throws <see cref="ArgumentException"/> for a bad option.</summary>
    /// <param name="args">The options after the scenario name.</param>
    /// <param name="output">Where progress and the result go; the last line is the headline figure.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <returns>The process exit code.</returns>
    Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken);
}
