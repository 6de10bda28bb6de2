using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Benchmarks.Model;

/// <summary>
/// A full NAB detector step (encode + SP + backtracking TM + likelihood + log score), learning on, single thread, on
/// realKnownCause/machine_temperature_system_failure.csv: each invocation scores the next 1,000 records, wrapping
/// around at the end of the file, so the reported time is per record and the model keeps learning as in production.
/// </summary>
[MemoryDiagnoser]
public class ModelStepBenchmarks
{
    private const int RecordsPerInvoke = 1000;
    private NabSeries _series = null!;
    private NabDetector _detector = null!;
    private int _next;

    /// <summary>Loads the series and warms the model up over the whole file once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _series = NabCsv.ReadSeries(Htm.NabStream.Locate(), "machine_temperature");
        double min = double.MaxValue;
        double max = double.MinValue;
        foreach (double v in _series.Values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        (min, max) = ModelParameters.PadObservedRange(min, max);
        _detector = new NabDetector(ModelParameters.Nab(min, max), NabAnomalyLikelihood.NabProbationaryPeriod(_series.Length));
        for (int i = 0; i < _series.Length; i++)
        {
            _detector.Step(_series.Timestamps[i], _series.Values[i]);
        }
    }

    /// <summary>Scores the next 1,000 records.</summary>
    [Benchmark(OperationsPerInvoke = RecordsPerInvoke)]
    public double Step()
    {
        double sum = 0;
        for (int k = 0; k < RecordsPerInvoke; k++)
        {
            sum += _detector.Step(_series.Timestamps[_next], _series.Values[_next]).Score;
            if (++_next == _series.Length)
            {
                _next = 0;
            }
        }

        return sum;
    }
}
