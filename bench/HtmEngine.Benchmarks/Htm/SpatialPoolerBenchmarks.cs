using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Sdr;
using HtmEngine.Core.SpatialPooling;

namespace HtmEngine.Benchmarks.Htm;

/// <summary>
/// One spatial-pooler step (NAB parameters, 2048 columns, 454 inputs) on the pre-encoded head of
/// machine_temperature_system_failure.csv. Each invocation runs 100 consecutive records, so the figures are per
/// record; learning continues across invocations like a live model.
/// </summary>
public class SpatialPoolerBenchmarks
{
    private const int Batch = 100;
    private ulong[][] _inputs = [];
    private SpatialPooler _pooler = null!;
    private readonly int[] _active = new int[40];
    private int _next;

    /// <summary>Run with the scalar reference kernels instead of the widest vector path.</summary>
    [Params(false, true)]
    public bool ForceScalar { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        BitKernels.ForcedWidth = ForceScalar ? KernelWidth.Scalar : KernelWidth.Auto;
        _inputs = NabStream.Encode(2000);
        _pooler = new SpatialPooler(SpatialPoolerParameters.Nab);
        // Warm past the first update rounds so bumps and duty cycles are in their steady regime.
        for (int i = 0; i < 500; i++)
        {
            _pooler.Compute(_inputs[i], learn: true, _active);
        }

        _next = 500;
    }

    [GlobalCleanup]
    public void Cleanup() => BitKernels.ForcedWidth = KernelWidth.Auto;

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ComputeLearn()
    {
        int sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += _pooler.Compute(_inputs[_next], learn: true, _active);
            _next = _next + 1 == _inputs.Length ? 0 : _next + 1;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ComputeInfer()
    {
        int sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += _pooler.Compute(_inputs[_next], learn: false, _active);
            _next = _next + 1 == _inputs.Length ? 0 : _next + 1;
        }

        return sum;
    }
}
