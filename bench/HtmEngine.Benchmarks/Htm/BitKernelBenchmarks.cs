using BenchmarkDotNet.Attributes;
using HtmEngine.Core.Sdr;

namespace HtmEngine.Benchmarks.Htm;

/// <summary>
/// The SDR kernels, scalar reference against the AVX2 and AVX-512 paths (the 512 ones return −1 without AVX-512BW), on spans of 8 words (one SP input) and 1024 words.
/// </summary>
public class BitKernelBenchmarks
{
    private ulong[] _a = [];
    private ulong[] _b = [];
    private ulong[] _destination = [];

    /// <summary>Span length in words.</summary>
    [Params(8, 1024)]
    public int Words { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _a = Fill(random, Words);
        _b = Fill(random, Words);
        _destination = new ulong[Words];
    }

    internal static ulong[] Fill(Random random, int length)
    {
        var words = new ulong[length];
        for (int i = 0; i < length; i++)
        {
            words[i] = (ulong)random.NextInt64();
        }

        return words;
    }

    [Benchmark(Baseline = true)]
    public int AndPopCount_Scalar() => BitKernelsReference.AndPopCount(_a, _b);

    [Benchmark]
    public int AndPopCount_Vector256() => BitKernelsVector256.AndPopCount(_a, _b);

    [Benchmark]
    public int AndPopCount_Vector512() => BitKernelsVector512.IsSupported ? BitKernelsVector512.AndPopCount(_a, _b) : -1;

    [Benchmark]
    public int PopCount_Scalar() => BitKernelsReference.PopCount(_a);

    [Benchmark]
    public int PopCount_Vector256() => BitKernelsVector256.PopCount(_a);

    [Benchmark]
    public int PopCount_Vector512() => BitKernelsVector512.IsSupported ? BitKernelsVector512.PopCount(_a) : -1;

    [Benchmark]
    public void And_Scalar() => BitKernelsReference.And(_a, _b, _destination);

    [Benchmark]
    public void And_Vector256() => BitKernelsVector256.And(_a, _b, _destination);
}

/// <summary>The spatial pooler's batched overlap: one 8-word input against 2048 connected rows.</summary>
public class OverlapRowsBenchmarks
{
    private ulong[] _rows = [];
    private ulong[] _input = [];
    private readonly int[] _overlaps = new int[2048];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2);
        _rows = BitKernelBenchmarks.Fill(random, 2048 * 8);
        _input = BitKernelBenchmarks.Fill(random, 8);
    }

    [Benchmark(Baseline = true)]
    public int OverlapRows2048x8_Scalar()
    {
        BitKernelsReference.AndPopCountRows(_input, _rows, _overlaps);
        return _overlaps[2047];
    }

    [Benchmark]
    public int OverlapRows2048x8_Vector512()
    {
        if (!BitKernelsVector512.IsSupported)
        {
            return -1;
        }

        BitKernelsVector512.AndPopCountRows(_input, _rows, _overlaps);
        return _overlaps[2047];
    }

    [Benchmark]
    public int OverlapRows2048x8_Vector256()
    {
        BitKernelsVector256.AndPopCountRows(_input, _rows, _overlaps);
        return _overlaps[2047];
    }
}
