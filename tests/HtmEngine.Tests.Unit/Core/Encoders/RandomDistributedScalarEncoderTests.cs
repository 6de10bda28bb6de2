using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Encoders;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Tests.Unit.Core.Encoders;

public class RandomDistributedScalarEncoderTests
{
    private static int Overlap(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int count = 0;
        foreach (int x in a)
        {
            if (b.Contains(x))
            {
                count++;
            }
        }

        return count;
    }

    [Fact]
    public void Bucket_500_is_the_first_w_of_NuPICs_shuffle_and_the_first_value_maps_to_it()
    {
        var encoder = new RandomDistributedScalarEncoder(0.5);
        var random = new NupicRandom(42);
        int[] permutation = Enumerable.Range(0, 400).ToArray();
        random.Shuffle<int>(permutation);
        Assert.Equal(permutation[..21], encoder.GetBucket(500).ToArray());

        Span<int> bits = stackalloc int[21];
        Assert.Equal(21, encoder.Encode(17.3, bits));
        Assert.Equal(17.3, encoder.Offset);
        Assert.Equal(permutation[..21], bits.ToArray());
    }

    [Fact]
    public void Every_pair_of_the_1000_buckets_obeys_the_overlap_rule()
    {
        var encoder = new RandomDistributedScalarEncoder(1.0);
        encoder.EnsureBucket(0);
        encoder.EnsureBucket(999);
        Assert.Equal(0, encoder.MinBucket);
        Assert.Equal(999, encoder.MaxBucket);
        var sets = new HashSet<int>[1000];
        for (int i = 0; i < 1000; i++)
        {
            ReadOnlySpan<int> bucket = encoder.GetBucket(i);
            sets[i] = [.. bucket.ToArray()];
            Assert.Equal(21, sets[i].Count); // no duplicate bits
            Assert.All(sets[i], b => Assert.InRange(b, 0, 399));
        }

        for (int i = 0; i < 1000; i++)
        {
            for (int j = i + 1; j < 1000; j++)
            {
                int overlap = sets[i].Count(sets[j].Contains);
                if (j - i < 21)
                {
                    Assert.Equal(21 - (j - i), overlap);
                }
                else
                {
                    Assert.True(overlap <= 2, $"buckets {i} and {j} share {overlap} bits");
                }
            }
        }
    }

    [Fact]
    public void Rounding_is_half_away_from_zero_and_indices_clip_at_0_and_999()
    {
        var encoder = new RandomDistributedScalarEncoder(1.0);
        Assert.Equal(500, encoder.GetBucketIndex(0.0));
        Assert.Equal(503, encoder.GetBucketIndex(2.5));
        Assert.Equal(497, encoder.GetBucketIndex(-2.5));
        Assert.Equal(502, encoder.GetBucketIndex(2.4999));
        Assert.Equal(999, encoder.GetBucketIndex(499.0));
        Assert.Equal(999, encoder.GetBucketIndex(1e300));
        Assert.Equal(0, encoder.GetBucketIndex(-500.0));
        Assert.Equal(0, encoder.GetBucketIndex(-1e300));
        Assert.Equal(1, encoder.GetBucketIndex(-499.0));

        Span<int> bits = stackalloc int[21];
        Assert.Equal(21, encoder.Encode(1e12, bits));
        Assert.Equal(encoder.GetBucket(999).ToArray(), bits.ToArray());
        Assert.Equal(21, encoder.Encode(-1e12, bits));
        Assert.Equal(encoder.GetBucket(0).ToArray(), bits.ToArray());
    }

    [Fact]
    public void NaN_gives_no_bits_and_does_not_set_the_offset_and_infinity_is_refused()
    {
        var encoder = new RandomDistributedScalarEncoder(1.0);
        Span<int> bits = stackalloc int[21];
        Assert.Equal(0, encoder.Encode(double.NaN, bits));
        Assert.Null(encoder.Offset);
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.Encode(double.PositiveInfinity, new int[21]));
    }

    [Fact]
    public void Same_stream_gives_the_same_bits_and_first_touch_order_matters()
    {
        double[] values = [10, 13.7, 2.1, 40, -7, 13.7, 90, 10.4];
        var a = new RandomDistributedScalarEncoder(0.7);
        var b = new RandomDistributedScalarEncoder(0.7);
        var bitsA = new int[21];
        var bitsB = new int[21];
        foreach (double v in values)
        {
            a.Encode(v, bitsA);
            b.Encode(v, bitsB);
            Assert.Equal(bitsA, bitsB);
        }

        // Same offset, but bucket 600 reached directly instead of after 400: the draws land elsewhere.
        var up = new RandomDistributedScalarEncoder(1.0);
        var down = new RandomDistributedScalarEncoder(1.0);
        up.Encode(0, bitsA);
        down.Encode(0, bitsA);
        up.Encode(100, bitsA);
        down.Encode(-100, bitsB);
        down.Encode(100, bitsB);
        Assert.NotEqual(bitsA, bitsB);
    }

    [Fact]
    public void Save_and_load_continue_identically()
    {
        var original = new RandomDistributedScalarEncoder(0.25);
        var bits = new int[21];
        foreach (double v in new[] { 5.0, 6.0, 3.0, 5.5 })
        {
            original.Encode(v, bits);
        }

        var writer = new CheckpointWriter(kind: 7, version: 1);
        original.Save(writer);
        byte[] bytes = writer.Complete();
        var reader = new CheckpointReader(bytes, 7, 1);
        RandomDistributedScalarEncoder restored = RandomDistributedScalarEncoder.Load(ref reader);
        Assert.True(reader.AtEnd);
        Assert.Equal(original.MinBucket, restored.MinBucket);
        Assert.Equal(original.MaxBucket, restored.MaxBucket);

        var restoredBits = new int[21];
        foreach (double v in new[] { 5.0, 12.0, -4.0, 3.3, 40.0 })
        {
            original.Encode(v, bits);
            restored.Encode(v, restoredBits);
            Assert.Equal(bits, restoredBits);
        }
    }

    [Fact]
    public void Invalid_parameters_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomDistributedScalarEncoder(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomDistributedScalarEncoder(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomDistributedScalarEncoder(1, w: 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomDistributedScalarEncoder(1, w: 21, n: 126));
    }

    [Fact]
    public void Encoding_an_existing_bucket_does_not_allocate()
    {
        var encoder = new RandomDistributedScalarEncoder(1.0);
        var bits = new int[21];
        for (int i = -50; i <= 50; i++)
        {
            encoder.Encode(i, bits);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            encoder.Encode((i % 101) - 50, bits);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
