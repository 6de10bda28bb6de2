using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Tests.Unit.Core;

public class NupicRandomTests
{
    [Fact]
    public void Same_seed_gives_the_same_sequence_and_different_seeds_differ()
    {
        var a = new NupicRandom(42);
        var b = new NupicRandom(42);
        var c = new NupicRandom(43);
        int differences = 0;
        for (int i = 0; i < 1000; i++)
        {
            uint x = a.NextRaw();
            Assert.Equal(x, b.NextRaw());
            if (x != c.NextRaw())
            {
                differences++;
            }
        }

        Assert.True(differences > 990);
    }

    [Fact]
    public void Raw_draws_are_31_bit_and_bounded_draws_stay_in_range()
    {
        var r = new NupicRandom(1956);
        for (int i = 0; i < 10_000; i++)
        {
            Assert.True(r.NextRaw() <= int.MaxValue);
            Assert.InRange(r.GetUInt32(454), 0u, 453u);
            double d = r.GetReal64();
            Assert.True(d >= 0 && d < 1);
        }
    }

    [Fact]
    public void Real64_uses_only_31_bits_of_the_high_word()
    {
        // lo | hi << 32 mod 2^48 keeps 16 bits of hi; bit 31 of lo is always 0, so the value never has bit 31 set.
        var r = new NupicRandom(7);
        for (int i = 0; i < 1000; i++)
        {
            ulong bits = (ulong)(r.GetReal64() * (1UL << 48));
            Assert.Equal(0UL, bits & (1UL << 31));
        }
    }

    [Fact]
    public void Shuffle_is_a_permutation_and_deterministic()
    {
        int[] a = new int[400];
        int[] b = new int[400];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = b[i] = i;
        }

        new NupicRandom(42).Shuffle<int>(a);
        new NupicRandom(42).Shuffle<int>(b);
        Assert.Equal(a, b);
        int[] sorted = (int[])a.Clone();
        Array.Sort(sorted);
        for (int i = 0; i < sorted.Length; i++)
        {
            Assert.Equal(i, sorted[i]);
        }

        Assert.NotEqual(Enumerable.Range(0, 400), a);
    }

    [Fact]
    public void Sample_keeps_population_order_and_takes_exactly_k()
    {
        int[] population = Enumerable.Range(100, 454).ToArray();
        int[] choices = new int[363];
        new NupicRandom(1956).Sample(population, choices);
        for (int i = 1; i < choices.Length; i++)
        {
            Assert.True(choices[i] > choices[i - 1]);
        }

        Assert.All(choices, c => Assert.InRange(c, 100, 553));
    }

    [Fact]
    public void A_saved_generator_continues_the_same_sequence()
    {
        var original = new NupicRandom(1960);
        for (int i = 0; i < 137; i++)
        {
            original.NextRaw();
        }

        var writer = new CheckpointWriter(kind: 1, version: 1);
        original.Save(writer);
        byte[] bytes = writer.Complete();
        var reader = new CheckpointReader(bytes, 1, 1);
        NupicRandom restored = NupicRandom.Load(ref reader);
        Assert.True(reader.AtEnd);
        for (int i = 0; i < 500; i++)
        {
            Assert.Equal(original.NextRaw(), restored.NextRaw());
        }
    }

    [Fact]
    public void Seed_zero_is_refused_because_nupic_takes_it_from_the_clock()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NupicRandom(0));
    }
}
