using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Core.Randomness;

/// <summary>
/// The pseudo-random generator of nupic / nupic.core (htm-algorithm.md §3.1), reproduced draw for draw so a
/// model seeded like NuPIC's consumes the same sequence: a BSD-style additive lagged-Fibonacci generator over
/// 31 words, seeded through Park–Miller, with NuPIC's rejection rules for bounded integers and its 48-bit reals.
/// </summary>
/// <remarks>
/// Not thread-safe: every model owns its generators. The state is 31 words and two indices; checkpoints store it
/// whole so a restored model continues the same sequence.
/// </remarks>
public sealed class NupicRandom
{
    /// <summary>The modulus of the generator's additions and of seeds (2^32 − 1, NuPIC's <c>MAX32</c>).</summary>
    public const uint Max32 = uint.MaxValue;

    /// <summary>The number of words in the generator's state (its lap).</summary>
    internal const int StateWords = StateSize;

    /// <summary>How far the front index runs ahead of the rear one: each draw adds the word written this many draws ago.</summary>
    internal const int Separation = 3;

    private const int StateSize = 31;

    private readonly uint[] _state = new uint[StateSize];
    private int _front;
    private int _rear;

    /// <summary>Creates a generator with NuPIC's seeding. Seed 0 is refused: in NuPIC it means "from the clock".</summary>
    public NupicRandom(ulong seed)
    {
        if (seed == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(seed), "Seed 0 means a time-based seed in NuPIC; deterministic models need a fixed, non-zero seed.");
        }

        Seed = seed;
        _state[0] = (uint)(seed % Max32);
        for (int i = 1; i < StateSize; i++)
        {
            _state[i] = (uint)ParkMiller((int)_state[i - 1]);
        }

        _front = Separation;
        _rear = 0;
        // NuPIC throws away ten rounds of the state before the first real draw.
        for (int i = 0; i < 10 * StateSize; i++)
        {
            NextRaw();
        }
    }

    private NupicRandom(ulong seed, ReadOnlySpan<uint> state, int front, int rear)
    {
        Seed = seed;
        state.CopyTo(_state);
        _front = front;
        _rear = rear;
    }

    /// <summary>The seed the generator was created with.</summary>
    public ulong Seed { get; }

    /// <summary>One raw 31-bit draw (the generator's native output).</summary>
    public uint NextRaw()
    {
        uint[] state = _state;
        int front = _front;
        int rear = _rear;
        uint raw = Step(state, ref front, ref rear);
        _front = front;
        _rear = rear;
        return raw;
    }

    /// <summary>
    /// One draw of the generator on state held by the caller (<see cref="NextRaw"/> and loops that keep the indices in
    /// locals between draws): returns the draw and advances <paramref name="front"/> and <paramref name="rear"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static uint Step(uint[] state, ref int front, ref int rear)
    {
        ref uint s = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(state);
        uint sum = AddModMax32(System.Runtime.CompilerServices.Unsafe.Add(ref s, front), System.Runtime.CompilerServices.Unsafe.Add(ref s, rear));
        System.Runtime.CompilerServices.Unsafe.Add(ref s, front) = sum;
        if (++front >= StateSize)
        {
            front = 0;
            ++rear;
        }
        else if (++rear >= StateSize)
        {
            rear = 0;
        }

        // The lowest bit is the least random one; NuPIC drops it.
        return (sum >> 1) & 0x7fffffffu;
    }

    /// <summary>
    /// (<paramref name="a"/> + <paramref name="b"/>) mod (2^32 − 1), NuPIC's additive step, without a division:
    /// 2^32 ≡ 1 modulo 2^32 − 1, so the carry adds back in, and a sum that reaches the modulus (at most 2^32) wraps
    /// to 0 or 1.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static uint AddModMax32(uint a, uint b)
    {
        ulong t = (ulong)a + b;
        ulong folded = (t & Max32) + (t >> 32);
        return (uint)(folded >= Max32 ? folded - Max32 : folded);
    }

    /// <summary>The state words, for loops that draw through <see cref="Step"/>.</summary>
    internal uint[] State => _state;

    /// <summary>The generator's front index, for loops that draw through <see cref="Step"/>.</summary>
    internal int Front
    {
        get => _front;
        set => _front = value;
    }

    /// <summary>The generator's rear index, for loops that draw through <see cref="Step"/>.</summary>
    internal int Rear
    {
        get => _rear;
        set => _rear = value;
    }

    /// <summary>A uniform integer in [0, <paramref name="max"/>), by NuPIC's rejection rule.</summary>
    public uint GetUInt32(uint max)
    {
        if (max == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(max), "The bound must be positive.");
        }

        uint limit = Max32 - (Max32 % max);
        uint sample;
        do
        {
            sample = NextRaw();
        }
        while (sample > limit);
        return sample % max;
    }

    /// <summary>A real in [0, 1) with 48 bits of resolution, from two draws (low word first).</summary>
    public double GetReal64()
    {
        const ulong max = 1UL << 48;
        const ulong limit = ulong.MaxValue - (ulong.MaxValue % max);
        ulong sample;
        do
        {
            ulong lo = NextRaw();
            ulong hi = NextRaw();
            sample = lo | (hi << 32);
        }
        while (sample > limit);
        return (sample % max) / (double)max;
    }

    /// <summary>Forward Fisher–Yates shuffle in NuPIC's order: for k = 0..n−1 swap a[k] with a[k + draw(n − k)].</summary>
    public void Shuffle<T>(Span<T> items)
    {
        int n = items.Length;
        for (int k = 0; k < n; k++)
        {
            int j = k + (int)GetUInt32((uint)(n - k));
            (items[k], items[j]) = (items[j], items[k]);
        }
    }

    /// <summary>
    /// Selection sampling in population order (NuPIC's <c>sample</c>): element i is kept iff
    /// draw(remaining population) &lt; still needed. Fills <paramref name="choices"/> entirely, in population order.
    /// </summary>
    public void Sample(ReadOnlySpan<int> population, Span<int> choices)
    {
        if (choices.Length > population.Length)
        {
            throw new ArgumentException("Cannot choose more elements than the population holds.", nameof(choices));
        }

        int needed = choices.Length;
        int taken = 0;
        for (int i = 0; i < population.Length && taken < needed; i++)
        {
            if (GetUInt32((uint)(population.Length - i)) < (uint)(needed - taken))
            {
                choices[taken++] = population[i];
            }
        }
    }

    /// <summary>Writes the complete generator state.</summary>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt64(Seed);
        writer.WriteInt32(_front);
        writer.WriteInt32(_rear);
        writer.WriteSpan<uint>(_state);
    }

    /// <summary>Reads a generator written by <see cref="Save"/>.</summary>
    public static NupicRandom Load(ref CheckpointReader reader)
    {
        ulong seed = reader.ReadUInt64();
        int front = reader.ReadInt32();
        int rear = reader.ReadInt32();
        Span<uint> state = stackalloc uint[StateSize];
        reader.ReadSpan(state);
        if ((uint)front >= StateSize || (uint)rear >= StateSize)
        {
            throw new CheckpointFormatException("Random generator indices are out of range.");
        }

        return new NupicRandom(seed, state, front, rear);
    }

    /// <summary>Park–Miller "minimal standard" step with Schrage's method, as BSD random's seeding does it.</summary>
    private static int ParkMiller(int x)
    {
        if (x == 0)
        {
            x = 123459876;
        }

        int hi = x / 127773;
        int lo = x % 127773;
        x = (16807 * lo) - (2836 * hi);
        if (x < 0)
        {
            x += 0x7fffffff;
        }

        return x;
    }
}
