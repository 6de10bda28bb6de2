using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Models;
using HtmEngine.Nab.Running;
using HtmEngine.Nab.Scoring;

namespace HtmEngine.Benchmarks.Model;

/// <summary>
/// The step of young models (issue #7): <see cref="ModelCount"/> fresh <see cref="HtmModel"/>s (NAB parameters,
/// machine_temperature_system_failure.csv's padded range) each step through their first 100 rows, in bursts of 50
/// rows per model as the engine's runners step them (model 0 rows 0–49, model 1 rows 0–49, …, then rows 50–99).
/// The time is per step; building the models is not timed (they are built in the iteration setup).
/// </summary>
/// <remarks>
/// A young model learns on nearly every step (~15 new segments per step over its first 100 rows), so its storage
/// grows into memory it has never touched: this measures growth and first touches as much as the algorithms. An engine
/// building a thousand models grows its heap into memory new to the process, where every first touch of a page is a
/// page fault (~8 µs of system time each on the shared VM); a benchmark whose iterations recycle the previous
/// iteration's models would touch only memory already mapped and show half the cost. So each iteration drops the
/// previous models and has the GC give their memory back to the system (an aggressive, compacting collection) before
/// it builds new ones.
/// </remarks>
[MemoryDiagnoser]
public class YoungModelBenchmarks
{
    /// <summary>Models per iteration.</summary>
    public const int ModelCount = 100;

    /// <summary>Rows each model sees.</summary>
    public const int Rows = 100;

    /// <summary>Rows per model in one burst.</summary>
    public const int Burst = 50;

    private ModelParameters _parameters = null!;
    private DateTime[] _timestamps = null!;
    private double[] _values = null!;
    private HtmModel[] _models = [];

    /// <summary>Loads the first rows and the parameters.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NabSeries series = NabCsv.ReadSeries(Htm.NabStream.Locate(), "machine_temperature");
        (double min, double max) = NabCorpusRunner.PaddedRange(series);
        _parameters = ModelParameters.Nab(min, max);
        _timestamps = series.Timestamps.Take(Rows).ToArray();
        _values = series.Values.Take(Rows).ToArray();
    }

    /// <summary>Builds the iteration's fresh models (not timed).</summary>
    [IterationSetup]
    public void BuildModels()
    {
        _models = [];
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var models = new HtmModel[ModelCount];
        for (int m = 0; m < models.Length; m++)
        {
            models[m] = new HtmModel(_parameters);
        }

        _models = models;
    }

    /// <summary>Every model through its first 100 rows in bursts of 50; the time is per step.</summary>
    [Benchmark(OperationsPerInvoke = ModelCount * Rows)]
    public double FirstHundredRows()
    {
        double sum = 0;
        for (int start = 0; start < Rows; start += Burst)
        {
            foreach (HtmModel model in _models)
            {
                for (int i = start; i < start + Burst; i++)
                {
                    sum += model.Step(_timestamps[i], _values[i]);
                }
            }
        }

        return sum;
    }
}
