using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;

namespace HtmEngine.Benchmarks;

/// <summary>
/// Every benchmark reports allocations: "zero allocation" claims are read off the Allocated column.
/// Workstation non-concurrent GC (set in the project) keeps that column deterministic.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    /// <summary>Creates the shared configuration.</summary>
    public BenchConfig()
    {
        Add(DefaultConfig.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
