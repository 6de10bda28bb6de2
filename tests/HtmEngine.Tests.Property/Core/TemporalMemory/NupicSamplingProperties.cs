using FsCheck;
using FsCheck.Xunit;
using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Tests.Property.Core.TemporalMemory;

/// <summary>The division-free sampler of the backtracking TM against the reference <see cref="NupicRandom"/> draws.</summary>
public class NupicSamplingProperties
{
    [Property(MaxTest = 300)]
    public bool FastMod_equals_the_remainder(uint a, PositiveInt d, uint wide)
    {
        // Small bounds use the table, the others compute the multiplier; wide bounds reach 2^32 − 1.
        uint small = (uint)d.Get;
        uint large = Math.Max(wide, 1u);
        return NupicSampling.FastMod(a, small) == a % small && NupicSampling.FastMod(a, large) == a % large;
    }

    [Property(MaxTest = 500)]
    public bool The_folded_additive_step_equals_the_modulo(uint a, uint b, bool nearTop)
    {
        // Half the cases near 2^32 − 1, where the fold wraps (a + b reaching the modulus once or twice).
        if (nearTop)
        {
            a = NupicRandom.Max32 - (a % 4);
            b = NupicRandom.Max32 - (b % 4);
        }

        return NupicRandom.AddModMax32(a, b) == (uint)(((ulong)a + b) % NupicRandom.Max32);
    }

    [Property(MaxTest = 200)]
    public bool Sample_and_NextBelow_consume_and_return_the_reference_draws(PositiveInt seed, byte populationSize, byte wanted, PositiveInt bound)
    {
        var reference = new NupicRandom((ulong)seed.Get);
        var fast = new NupicRandom((ulong)seed.Get);
        int n = populationSize;
        int k = n == 0 ? 0 : wanted % (n + 1);
        int[] population = Enumerable.Range(0, n).Select(i => (i * 7) + 3).ToArray();
        var expected = new int[k];
        var actual = new int[k];
        reference.Sample(population, expected);
        NupicSampling.Sample(fast, population, actual);
        uint max = (uint)bound.Get;
        return expected.AsSpan().SequenceEqual(actual)
            && reference.GetUInt32(max) == NupicSampling.NextBelow(fast, max)
            && reference.NextRaw() == fast.NextRaw();
    }

    [Property(MaxTest = 300)]
    public bool SampleMask_takes_the_positions_the_reference_sample_takes(PositiveInt seed, byte populationSize, byte wanted, byte warmUp)
    {
        var reference = new NupicRandom((ulong)seed.Get);
        var fast = new NupicRandom((ulong)seed.Get);
        for (int i = 0; i < warmUp; i++)
        {
            // Start anywhere in the state's lap, so the generation ahead wraps at every position.
            reference.NextRaw();
            fast.NextRaw();
        }

        return SampleMaskMatchesTheReference(reference, fast, populationSize, wanted);
    }

    [Property(MaxTest = 200)]
    public bool SampleMask_of_a_generator_with_unusual_indices_takes_the_reference_positions(PositiveInt seed, byte frontRaw, byte rearRaw, byte populationSize, byte wanted)
    {
        // A generator restored from a checkpoint may hold any pair of indices, not only the constructor's spacing of
        // three; the sample then takes the path that steps through both indices, and must still match draw for draw.
        var writer = new CheckpointWriter(kind: 91, version: 1);
        var origin = new NupicRandom((ulong)seed.Get);
        origin.Save(writer);
        byte[] saved = writer.Complete();
        var stateWriter = new CheckpointWriter(kind: 91, version: 1);
        var readBack = new CheckpointReader(saved, 91, 1);
        stateWriter.WriteUInt64(readBack.ReadUInt64());
        readBack.ReadInt32();
        readBack.ReadInt32();
        stateWriter.WriteInt32(frontRaw % 31);
        stateWriter.WriteInt32(rearRaw % 31);
        var state = new uint[31];
        readBack.ReadSpan<uint>(state);
        stateWriter.WriteSpan<uint>(state);
        byte[] bytes = stateWriter.Complete();
        var referenceReader = new CheckpointReader(bytes, 91, 1);
        NupicRandom reference = NupicRandom.Load(ref referenceReader);
        var fastReader = new CheckpointReader(bytes, 91, 1);
        NupicRandom fast = NupicRandom.Load(ref fastReader);

        return SampleMaskMatchesTheReference(reference, fast, populationSize, wanted);
    }

    /// <summary>
    /// The positions 0..n−1 as the population: the reference's choices must be the mask's set bits, and both generators
    /// must then give the same two laps of draws (every word the sample wrote is the reference's).
    /// </summary>
    private static bool SampleMaskMatchesTheReference(NupicRandom reference, NupicRandom fast, byte populationSize, byte wanted)
    {
        int n = populationSize % 65;
        int k = n == 0 ? 0 : wanted % (n + 1);
        var expected = new int[k];
        reference.Sample(Enumerable.Range(0, n).ToArray(), expected);
        ulong mask = NupicSampling.SampleMask(fast, n, k);
        ulong expectedMask = 0;
        foreach (int p in expected)
        {
            expectedMask |= 1UL << p;
        }

        bool sameStream = true;
        for (int i = 0; i < 62; i++)
        {
            sameStream &= reference.NextRaw() == fast.NextRaw();
        }

        return mask == expectedMask && sameStream;
    }
}
