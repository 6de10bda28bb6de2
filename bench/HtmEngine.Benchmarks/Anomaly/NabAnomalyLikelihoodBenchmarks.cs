using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Anomaly;

namespace HtmEngine.Benchmarks.Anomaly;

/// <summary>
/// One record through NAB's streaming likelihood, amortised over a block of records so that the re-fit every 100
/// records (over a full 8640-record window) is included in the per-record figure.
/// </summary>
public class NabAnomalyLikelihoodBenchmarks
{
    private const int Block = 1000;
    private readonly double[] _values = new double[Block];
    private readonly double[] _raw = new double[Block];
    private NabAnomalyLikelihood _likelihood = null!;
    private long _t;

    /// <summary>Fills the window so every measured step runs past probation with a full 8640-record history.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        for (int i = 0; i < Block; i++)
        {
            _values[i] = 50 + (10 * Math.Sin(i / 30.0)) + rng.NextDouble();
            _raw[i] = rng.Next(15) == 0 ? 1.0 : (float)(rng.Next(0, 6) / 40.0);
        }

        (int learning, int estimation) = NabAnomalyLikelihood.ForProbation(750);
        _likelihood = new NabAnomalyLikelihood(learning, estimation);
        for (int i = 0; i < 10_000; i++)
        {
            Step(i % Block);
        }
    }

    /// <summary>Block records; divide by <see cref="Block"/> for the per-record time (OperationsPerInvoke does that).</summary>
    [Benchmark(OperationsPerInvoke = Block)]
    public double AnomalyProbabilityPerRecord()
    {
        double sum = 0;
        for (int i = 0; i < Block; i++)
        {
            sum += Step(i);
        }

        return sum;
    }

    /// <summary>The steady per-record work without any re-fit (iteration not a multiple of 100).</summary>
    [Benchmark]
    public double LogScoreOfTail() => NabAnomalyLikelihood.LogScore(1.0 - NabAnomalyLikelihood.TailProbability(_raw[7], 0.05, 0.02));

    private double Step(int i) => _likelihood.AnomalyProbability(_values[i], _raw[i], _t++);
}
