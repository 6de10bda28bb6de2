using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Encoders;
using HtmEngine.Core.Models;
using HtmEngine.Core.SpatialPooling;
using HtmEngine.Core.TemporalMemory;
using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Benchmarks.Tm;

/// <summary>
/// The backtracking TM alone on the real spatial-pooler output of realKnownCause/machine_temperature_system_failure.csv
/// (NAB parameters, learning on): the 22,695 active-column sets are computed once with the model's encoder and
/// spatial pooler, then every invocation feeds the whole file into a fresh TM. The time is per record.
/// </summary>
[MemoryDiagnoser]
public class BacktrackingTmNabBenchmarks
{
    private int[][] _columns = null!;
    private BacktrackingTmParameters _parameters = null!;
    private BacktrackingTm _last = null!;

    /// <summary>Number of records in the file (operations per invocation).</summary>
    public const int Records = 22695;

    /// <summary>Encodes the file and runs it through the spatial pooler once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NabSeries series = NabCsv.ReadSeries(Htm.NabStream.Locate(), "machine_temperature");
        _columns = ComputeColumns(series, out _parameters);
    }

    /// <summary>Computes the spatial pooler's active columns for every record, as the NAB model would.</summary>
    public static int[][] ComputeColumns(NabSeries series, out BacktrackingTmParameters tmParameters)
    {
        (double min, double max) = NabCorpusRunner.PaddedRange(series);
        ModelParameters parameters = ModelParameters.Nab(min, max);
        var encoder = new MetricEncoder(parameters.Resolution, seed: parameters.EncoderSeed);
        var pooler = new SpatialPooler(parameters.SpatialPooler with { InputWidth = encoder.InputWidth });
        tmParameters = parameters.Backtracking with { ColumnCount = parameters.SpatialPooler.ColumnCount };
        var bits = new ulong[(encoder.InputWidth + 63) / 64];
        var active = new int[parameters.SpatialPooler.ColumnCount];
        var result = new int[series.Length][];
        for (int i = 0; i < series.Length; i++)
        {
            encoder.Encode(series.Timestamps[i], series.Values[i], bits);
            int n = pooler.Compute(bits, learn: true, active);
            result[i] = active.AsSpan(0, n).ToArray();
        }

        return result;
    }

    /// <summary>The whole file through a fresh TM (CountPredicted + Compute per record).</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public int WholeFile()
    {
        var tm = new BacktrackingTm(_parameters);
        int predicted = 0;
        for (int i = 0; i < _columns.Length; i++)
        {
            predicted += tm.CountPredicted(_columns[i]);
            tm.Compute(_columns[i], learn: true);
        }

        _last = tm;
        return predicted;
    }

    /// <summary>Reports the state reached.</summary>
    [GlobalCleanup]
    public void Report() =>
        Console.WriteLine($"// BacktrackingTm machine_temperature: {_last?.SegmentCount} segments, {_last?.SynapseCount} synapses");
}
