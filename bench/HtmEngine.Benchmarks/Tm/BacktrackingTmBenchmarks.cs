using BenchmarkDotNet.Attributes;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Benchmarks.Tm;

/// <summary>
/// One backtracking-TM step (NAB "numenta" parameters, learning on) on synthetic spatial-pooler-like input of
/// 40-of-2048 column sets, in a fixed 5,000-step cycle after 20,000 warm-up steps:
/// <list type="bullet">
/// <item><see cref="TmStream.NoisySequence"/>: a 40-element repeating sequence, 2 random columns replaced per step
/// (hard: every noisy column grows a new segment);</item>
/// <item><see cref="TmStream.NoisySequenceWithAnomalies"/>: the same with a random set every 25th step (backtracking);</item>
/// <item><see cref="TmStream.ScalarLike"/>: a daily-periodic scalar with noise, bucketed so that neighbouring values
/// share 36 of 40 columns, as a spatial pooler's output for a NAB metric roughly does.</item>
/// </list>
/// The real SP output stream will be wired by the model.
/// </summary>
[MemoryDiagnoser]
public class BacktrackingTmBenchmarks
{
    private const int StepsPerInvoke = 1000;
    private const int CycleLength = 5000;
    private const int WarmUpSteps = 20000;

    private BacktrackingTm _tm = null!;
    private int[][] _stream = null!;
    private int _position;

    /// <summary>Kinds of input stream.</summary>
    public enum TmStream
    {
        /// <summary>Repeating sequence with 2 noisy columns per step.</summary>
        NoisySequence,

        /// <summary>As <see cref="NoisySequence"/>, plus a random set every 25th step.</summary>
        NoisySequenceWithAnomalies,

        /// <summary>A periodic noisy scalar through overlapping buckets.</summary>
        ScalarLike,
    }

    /// <summary>The input stream.</summary>
    [ParamsAllValues]
    public TmStream Stream { get; set; }

    /// <summary>Builds the stream and runs the TM through the warm-up steps.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        var sequence = new int[40][];
        for (int i = 0; i < sequence.Length; i++)
        {
            sequence[i] = RandomSet(rng);
        }

        int[] permutation = new int[2048];
        for (int i = 0; i < permutation.Length; i++)
        {
            permutation[i] = i;
        }

        rng.Shuffle(permutation);
        _stream = new int[CycleLength][];
        for (int t = 0; t < CycleLength; t++)
        {
            _stream[t] = Stream switch
            {
                TmStream.ScalarLike => ScalarSet(t, rng, permutation),
                TmStream.NoisySequenceWithAnomalies when t % 25 == 24 => RandomSet(rng),
                _ => WithNoise(sequence[t % sequence.Length], rng),
            };
        }

        _tm = new BacktrackingTm(new BacktrackingTmParameters());
        _tm.ReserveSegments(1 << 18);
        for (int t = 0; t < WarmUpSteps; t++)
        {
            Step();
        }
    }

    /// <summary>One CountPredicted + Compute per operation.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public int Step1000()
    {
        int predicted = 0;
        for (int i = 0; i < StepsPerInvoke; i++)
        {
            predicted += Step();
        }

        return predicted;
    }

    /// <summary>Reports the state reached, so the figures can be quoted with the benchmark.</summary>
    [GlobalCleanup]
    public void Report() =>
        Console.WriteLine($"// BacktrackingTm {Stream}: {_tm.SegmentCount} segments, {_tm.SynapseCount} synapses after {_tm.LearningIteration} steps");

    private int Step()
    {
        int[] input = _stream[_position];
        _position = (_position + 1) % CycleLength;
        int predicted = _tm.CountPredicted(input);
        _tm.Compute(input, learn: true);
        return predicted;
    }

    /// <summary>A value with a 288-step period plus noise, bucketed; bucket b uses a window of 40 columns starting at 4b.</summary>
    private static int[] ScalarSet(int t, Random rng, int[] permutation)
    {
        double noise = (rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 1.5) * 3.0;
        double value = 60 + (30 * Math.Sin(2 * Math.PI * t / 288.0)) + noise;
        int bucket = Math.Clamp((int)Math.Round(value), 0, 120);
        var set = new int[40];
        for (int k = 0; k < set.Length; k++)
        {
            set[k] = permutation[((bucket * 4) + k) % permutation.Length];
        }

        Array.Sort(set);
        return set;
    }

    private static int[] RandomSet(Random rng)
    {
        var set = new SortedSet<int>();
        while (set.Count < 40)
        {
            set.Add(rng.Next(2048));
        }

        return [.. set];
    }

    private static int[] WithNoise(int[] set, Random rng)
    {
        var result = new SortedSet<int>(set);
        result.Remove(set[rng.Next(set.Length)]);
        result.Remove(set[rng.Next(set.Length)]);
        while (result.Count < set.Length)
        {
            result.Add(rng.Next(2048));
        }

        return [.. result];
    }
}
