using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HtmEngine.Core.Randomness;

/// <summary>
/// <see cref="NupicRandom.GetUInt32"/> and <see cref="NupicRandom.Sample"/> draw for draw, without their integer
/// divisions: chooseCellsToLearnFrom samples tens of cells per learning update, one bounded draw per cell, and the
/// two hardware divisions of each draw were a tenth of the TM's time.
/// </summary>
/// <remarks>
/// Two facts make it exact. A raw draw is below 2^31 while the rejection limit <c>Max32 − Max32 % max</c> is at
/// least 2^31 for any <c>max ≤ 2^31</c>, so the first draw is always accepted and the limit need not be computed.
/// The remainder is Lemire's "fastmod" (M = ⌊(2^64 − 1)/d⌋ + 1; a mod d = high 64 bits of (M·a mod 2^64)·d),
/// exact for every 32-bit a and d; M is tabulated for small bounds and divided out for the others.
/// </remarks>
internal static class NupicSampling
{
    private const int TableSize = 4096;
    private const int Lag = NupicRandom.Separation;

    // Lemire multipliers for d in [0, TableSize); entry 0 is unused, entry 1 is 0 (which yields a mod 1 = 0).
    private static readonly ulong[] s_multipliers = BuildMultipliers();

    /// <summary>Exactly <c>random.GetUInt32(max)</c> for 1 ≤ <paramref name="max"/> ≤ 2^31.</summary>
    public static uint NextBelow(NupicRandom random, uint max)
    {
        if (max - 1 >= 1u << 31)
        {
            return random.GetUInt32(max);
        }

        return FastMod(random.NextRaw(), max);
    }

    /// <summary>
    /// Exactly <c>random.Sample(population, choices)</c>: a selection sample in population order, one bounded draw
    /// per visited element until <paramref name="choices"/> is full.
    /// </summary>
    public static void Sample(NupicRandom random, ReadOnlySpan<int> population, Span<int> choices)
    {
        if (choices.Length > population.Length)
        {
            throw new ArgumentException("Cannot choose more elements than the population holds.", nameof(choices));
        }

        int needed = choices.Length;
        int taken = 0;
        uint[] state = random.State;
        int front = random.Front;
        int rear = random.Rear;
        ref int from = ref MemoryMarshal.GetReference(population);
        ref int to = ref MemoryMarshal.GetReference(choices);
        for (int i = 0; i < population.Length && taken < needed; i++)
        {
            // population.Length − i is in [1, int.MaxValue], so the single-draw rule of NextBelow holds. Branch-free
            // take: the element is written at the end of the choices either way and the end advances only if taken
            // (the last write lands inside choices: taken < needed on every round).
            uint draw = FastMod(NupicRandom.Step(state, ref front, ref rear), (uint)(population.Length - i));
            Unsafe.Add(ref to, taken) = Unsafe.Add(ref from, i);
            taken += draw < (uint)(needed - taken) ? 1 : 0;
        }

        random.Front = front;
        random.Rear = rear;
    }

    /// <summary>
    /// <see cref="Sample"/> over the positions 0..<paramref name="populationSize"/> − 1, returned as a bit mask: the
    /// same draws, and the same positions taken, without a population or a destination.
    /// </summary>
    /// <remarks>
    /// A queued learning update knows how many candidates it will choose from and how many it needs when it is
    /// queued, but which cells those are only matters if it is ever applied; more than half are dropped. Drawing the
    /// positions now keeps the generator's stream in Cells4's order, and the cells are looked up only when needed.
    /// </remarks>
    public static ulong SampleMask(NupicRandom random, int populationSize, int needed)
    {
        if ((uint)populationSize > 64 || (uint)needed > (uint)populationSize)
        {
            throw new ArgumentOutOfRangeException(nameof(populationSize), "The mask holds at most 64 positions, and no more can be chosen than there are.");
        }

        uint[] state = random.State;
        int front = random.Front;
        int rear = random.Rear;
        if (rear != (front >= Lag ? front - Lag : front + NupicRandom.StateWords - Lag))
        {
            // Only a generator restored from a hand-made checkpoint can break the constructor's spacing.
            return SampleMaskByIndices(random, populationSize, needed);
        }

        // Each draw adds the word written Lag draws ago, so the last Lag draws are kept in registers and only the
        // front word (written a full lap ago) is loaded: the chain from one draw to the next no longer runs through a
        // store and a load of the same word.
        ref uint words = ref MemoryMarshal.GetArrayDataReference(state);
        uint lag3 = Unsafe.Add(ref words, rear);
        uint lag2 = Unsafe.Add(ref words, rear + 1 == NupicRandom.StateWords ? 0 : rear + 1);
        uint lag1 = Unsafe.Add(ref words, rear + 2 >= NupicRandom.StateWords ? rear + 2 - NupicRandom.StateWords : rear + 2);
        ulong mask = 0;
        int taken = 0;
        for (int i = 0; i < populationSize && taken < needed; i++)
        {
            uint sum = NupicRandom.AddModMax32(Unsafe.Add(ref words, front), lag3);
            Unsafe.Add(ref words, front) = sum;
            lag3 = lag2;
            lag2 = lag1;
            lag1 = sum;
            front = front == NupicRandom.StateWords - 1 ? 0 : front + 1;
            uint draw = FastMod((sum >> 1) & 0x7fffffffu, (uint)(populationSize - i));
            int take = draw < (uint)(needed - taken) ? 1 : 0;
            mask |= (ulong)take << i;
            taken += take;
        }

        random.Front = front;
        random.Rear = front >= Lag ? front - Lag : front + NupicRandom.StateWords - Lag;
        return mask;
    }

    /// <summary>
    /// <see cref="SampleMask"/> through <see cref="NupicRandom.Step"/>, for any pair of indices (and the benchmarks'
    /// baseline: it was the only path before the draws were kept in registers).
    /// </summary>
    internal static ulong SampleMaskByIndices(NupicRandom random, int populationSize, int needed)
    {
        ulong mask = 0;
        int taken = 0;
        uint[] state = random.State;
        int front = random.Front;
        int rear = random.Rear;
        for (int i = 0; i < populationSize && taken < needed; i++)
        {
            uint draw = FastMod(NupicRandom.Step(state, ref front, ref rear), (uint)(populationSize - i));
            int take = draw < (uint)(needed - taken) ? 1 : 0;
            mask |= (ulong)take << i;
            taken += take;
        }

        random.Front = front;
        random.Rear = rear;
        return mask;
    }

    /// <summary><paramref name="a"/> mod <paramref name="d"/> (d ≥ 1) by multiplication.</summary>
    /// <remarks>Inlined: the selection sample calls it once per visited cell, and the call was a fifth of the sample's time.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint FastMod(uint a, uint d)
    {
        ulong m = d < TableSize ? s_multipliers[d] : (ulong.MaxValue / d) + 1;
        return (uint)Math.BigMul(m * a, d, out _);
    }

    private static ulong[] BuildMultipliers()
    {
        var table = new ulong[TableSize];
        for (uint d = 1; d < TableSize; d++)
        {
            table[d] = (ulong.MaxValue / d) + 1;
        }

        return table;
    }
}
