using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;
using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Benchmarks.Model;

/// <summary>
/// A full NAB detector step (encode + SP + backtracking TM + likelihood + log score), learning on, single thread, on
/// realKnownCause/machine_temperature_system_failure.csv: each invocation scores the next 1,000 records, wrapping
/// around at the end of the file, so the reported time is per record and the model keeps learning as in production.
/// <see cref="WholeFile"/> runs the file once through a fresh detector instead (a young model, as <c>detect</c> sees it).
/// </summary>
[MemoryDiagnoser]
public class ModelStepBenchmarks
{
    private const int RecordsPerInvoke = 1000;
    private const int WholeFileRecords = 22695;
    private ModelParameters _parameters = null!;
    private NabSeries _series = null!;
    private NabDetector _detector = null!;
    private int _next;

    /// <summary>Loads the series and warms the model up over the whole file once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _series = NabCsv.ReadSeries(Htm.NabStream.Locate(), "machine_temperature");
        (double min, double max) = NabCorpusRunner.PaddedRange(_series);
        _parameters = ModelParameters.Nab(min, max);
        if (_series.Length != WholeFileRecords)
        {
            throw new InvalidOperationException($"machine_temperature has {_series.Length} records, not {WholeFileRecords}.");
        }

        _detector = new NabDetector(_parameters, NabAnomalyLikelihood.NabProbationaryPeriod(_series.Length));
        for (int i = 0; i < _series.Length; i++)
        {
            _detector.Step(_series.Timestamps[i], _series.Values[i]);
        }
    }

    /// <summary>
    /// The whole file through a fresh detector, as <c>htmengine detect</c> runs it but without the process start and
    /// the JIT: the figure issue #3's records/s target is about. The time is per record.
    /// </summary>
    [Benchmark(OperationsPerInvoke = WholeFileRecords)]
    public double WholeFile()
    {
        var detector = new NabDetector(_parameters, NabAnomalyLikelihood.NabProbationaryPeriod(_series.Length));
        double sum = 0;
        for (int i = 0; i < _series.Length; i++)
        {
            sum += detector.Step(_series.Timestamps[i], _series.Values[i]).Score;
        }

        return sum;
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
