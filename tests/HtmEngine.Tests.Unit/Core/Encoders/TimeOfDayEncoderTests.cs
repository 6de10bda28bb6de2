using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Encoders;
using HtmEngine.Core.Sdr;

namespace HtmEngine.Tests.Unit.Core.Encoders;

public class TimeOfDayEncoderTests
{
    private static int[] Bits(int hour, int minute, int second = 0)
    {
        var encoder = new TimeOfDayEncoder();
        var bits = new int[21];
        Assert.Equal(21, encoder.Encode(new DateTime(2014, 2, 19, hour, minute, second), bits));
        Array.Sort(bits);
        return bits;
    }

    private static int[] Range(int from, int to) => Enumerable.Range(from, to - from + 1).ToArray();

    [Fact]
    public void Width_is_54_for_21_bits_and_radius_9_49()
    {
        Assert.Equal(54, new TimeOfDayEncoder().Width);
    }

    [Fact]
    public void Midnight_wraps_below_zero()
    {
        // centre = floor(0 × 54 / 24) = 0 → bits −10..10 → 44..53 and 0..10.
        Assert.Equal(Range(0, 10).Concat(Range(44, 53)), Bits(0, 0));
    }

    [Fact]
    public void Noon_is_centred_on_bit_27()
    {
        // centre = floor(12 × 54 / 24) = 27 → bits 17..37.
        Assert.Equal(Range(17, 37), Bits(12, 0));
    }

    [Fact]
    public void One_minute_to_midnight_wraps_above_53()
    {
        // t = 23 + 59/60 = 23.9833; centre = floor(23.9833 × 54 / 24) = floor(53.9625) = 53 → bits 43..63 → 43..53, 0..9.
        Assert.Equal(Range(0, 9).Concat(Range(43, 53)), Bits(23, 59));
    }

    [Fact]
    public void Seconds_are_ignored_and_bucket_edges_fall_where_the_formula_puts_them()
    {
        Assert.Equal(Bits(6, 40, 0), Bits(6, 40, 59));
        // 6:40 → 6.6667 × 2.25 = 15.0 exactly at the edge; 6:39 → 14.9625.
        Assert.Equal(Range(5, 25), Bits(6, 40));
        Assert.Equal(Range(4, 24), Bits(6, 39));
    }

    [Fact]
    public void Metric_encoder_puts_time_of_day_first_then_the_value()
    {
        var encoder = new MetricEncoder(resolution: 1.0);
        Assert.Equal(454, encoder.InputWidth);
        Assert.Equal(8, encoder.WordCount);
        var input = new ulong[8];
        Array.Fill(input, ulong.MaxValue);
        var timestamp = new DateTime(2014, 2, 19, 12, 0, 0);
        encoder.Encode(timestamp, 3.0, input);
        Assert.Equal(42, encoder.ActiveBitCount);
        Assert.Equal(42, BitKernels.PopCount(input));
        var indices = new int[64];
        int count = BitKernels.GetSetBits(input, indices);
        Assert.Equal(Range(17, 37), indices[..21]);
        var valueBits = encoder.Value.GetBucket(500).ToArray().Select(b => b + 54).OrderBy(b => b).ToArray();
        Assert.Equal(valueBits, indices[21..count]);

        encoder.Encode(timestamp, double.NaN, input);
        Assert.Equal(21, encoder.ActiveBitCount);
        Assert.Equal(21, BitKernels.PopCount(input));
    }

    [Fact]
    public void Metric_encoder_round_trips()
    {
        var encoder = new MetricEncoder(resolution: 2.5);
        var input = new ulong[8];
        var t = new DateTime(2014, 1, 1, 8, 5, 0);
        encoder.Encode(t, 10, input);
        encoder.Encode(t, 30, input);
        var writer = new CheckpointWriter(1, 1);
        encoder.Save(writer);
        var reader = new CheckpointReader(writer.Complete(), 1, 1);
        MetricEncoder restored = MetricEncoder.Load(ref reader);
        var restoredInput = new ulong[8];
        for (int i = 0; i < 50; i++)
        {
            DateTime at = t.AddMinutes(i * 37);
            encoder.Encode(at, i * 3.1 - 40, input);
            restored.Encode(at, i * 3.1 - 40, restoredInput);
            Assert.Equal(input, restoredInput);
        }
    }
}
