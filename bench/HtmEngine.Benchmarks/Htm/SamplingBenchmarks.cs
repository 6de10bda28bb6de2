using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Benchmarks.Htm;

/// <summary>
/// The learning step's selection sample as a bit mask (NupicSampling.SampleMask): 1,000 samples of 7 positions out of
/// 40, as a deferred learning update draws them, with the last draws held in registers against the generator stepped
/// through its two indices (the baseline, which is the path a generator with unusual indices still takes).
/// </summary>
public class SamplingBenchmarks
{
    private const int Samples = 1000;
    private const int Population = 40;
    private const int Wanted = 7;
    private NupicRandom _random = null!;

    [GlobalSetup]
    public void Setup() => _random = new NupicRandom(42);

    [Benchmark(Baseline = true, OperationsPerInvoke = Samples)]
    public ulong SampleMask_ThroughIndices()
    {
        ulong any = 0;
        for (int i = 0; i < Samples; i++)
        {
            any ^= NupicSampling.SampleMaskByIndices(_random, Population, Wanted);
        }

        return any;
    }

    [Benchmark(OperationsPerInvoke = Samples)]
    public ulong SampleMask_LagsInRegisters()
    {
        ulong any = 0;
        for (int i = 0; i < Samples; i++)
        {
            any ^= NupicSampling.SampleMask(_random, Population, Wanted);
        }

        return any;
    }
}
