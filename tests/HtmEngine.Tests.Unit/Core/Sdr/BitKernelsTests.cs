using HtmEngine.Core.Sdr;

namespace HtmEngine.Tests.Unit.Core.Sdr;

public class BitKernelsTests
{
    [Fact]
    public void Set_clear_and_test_bits_address_the_right_word_and_bit()
    {
        var words = new ulong[8];
        BitKernels.SetBit(words, 0);
        BitKernels.SetBit(words, 63);
        BitKernels.SetBit(words, 64);
        BitKernels.SetBit(words, 453);
        Assert.Equal(0x8000_0000_0000_0001UL, words[0]);
        Assert.Equal(1UL, words[1]);
        Assert.Equal(1UL << (453 - 448), words[7]);
        Assert.True(BitKernels.TestBit(words, 453));
        BitKernels.ClearBit(words, 63);
        Assert.False(BitKernels.TestBit(words, 63));
        Assert.Equal(3, BitKernels.PopCount(words));
        Span<int> indices = stackalloc int[8];
        Assert.Equal(3, BitKernels.GetSetBits(words, indices));
        Assert.Equal(new[] { 0, 64, 453 }, indices[..3].ToArray());
    }

    [Fact]
    public void Overlap_of_known_patterns()
    {
        ulong[] a = [ulong.MaxValue, 0xF0F0, 0, 1, ulong.MaxValue, 7, 0, 0, 0xFF];
        ulong[] b = [0xFFFF, 0xFF00, 5, 1, 0, 3, 0, 0, 0x0F];
        Assert.Equal(16 + 4 + 0 + 1 + 0 + 2 + 4, BitKernels.AndPopCount(a, b));
        Assert.Equal(64 + 8 + 0 + 1 + 64 + 3 + 8, BitKernels.PopCount(a));
    }

    [Fact]
    public void Forcing_the_scalar_path_gives_the_same_batched_overlaps()
    {
        var random = new Random(5);
        var input = new ulong[8];
        var rows = new ulong[8 * 2048];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (ulong)random.NextInt64();
        }

        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = (ulong)random.NextInt64();
        }

        var fast = new int[2048];
        var scalar = new int[2048];
        BitKernels.AndPopCountRows(input, rows, fast);
        KernelWidth saved = BitKernels.ForcedWidth;
        try
        {
            BitKernels.ForcedWidth = KernelWidth.Scalar;
            BitKernels.AndPopCountRows(input, rows, scalar);
        }
        finally
        {
            BitKernels.ForcedWidth = saved;
        }

        Assert.Equal(scalar, fast);
    }

    [Fact]
    public void Mismatched_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => BitKernels.AndPopCount(new ulong[3], new ulong[4]));
        Assert.Throws<ArgumentException>(() => BitKernels.And(new ulong[3], new ulong[3], new ulong[2]));
    }
}
