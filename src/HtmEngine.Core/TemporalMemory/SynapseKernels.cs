using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>Where <see cref="SynapseKernels.UpdatePermanences"/> writes its results (all spans at least the input's padded length).</summary>
internal readonly ref struct PermanenceUpdateOutput
{
    /// <summary>Creates the output view.</summary>
    public PermanenceUpdateOutput(Span<int> keptSources, Span<float> keptPermanences, Span<byte> keptKinds, Span<int> deadSources, Span<int> crossed)
    {
        KeptSources = keptSources;
        KeptPermanences = keptPermanences;
        KeptKinds = keptKinds;
        DeadSources = deadSources;
        Crossed = crossed;
    }

    /// <summary>Sources of the surviving synapses, in input order.</summary>
    public Span<int> KeptSources { get; }

    /// <summary>Their updated permanences.</summary>
    public Span<float> KeptPermanences { get; }

    /// <summary>Their kinds: 1 = reinforced (incremented), 0 = decremented.</summary>
    public Span<byte> KeptKinds { get; }

    /// <summary>Sources of the synapses that fell to ≤ 0, in input order.</summary>
    public Span<int> DeadSources { get; }

    /// <summary>(source &lt;&lt; 1 | now connected) of the surviving synapses whose permanence crossed connectedPerm.</summary>
    public Span<int> Crossed { get; }
}

/// <summary>
/// The permanence update of Cells4's adaptSegment over one segment's synapses, with a scalar reference that the
/// property tests compare the vector path to (and that runs wherever AVX-512 is missing).
/// </summary>
/// <remarks>
/// The scalar loop carried a dozen values per synapse (seven array positions, three counters, three constants) and the
/// JIT spilled half of them; sixteen synapses per AVX-512 step with the survivors, the dead and the crossed compressed
/// out by masks do the same work in a handful of instructions. Every lane computes in float32 exactly as the scalar
/// code does (add, min, subtract, compare), so the results are bit for bit the same.
/// </remarks>
internal static class SynapseKernels
{
    /// <summary>Lanes per vector step; input and output spans hold at least the count rounded up to a multiple of it.</summary>
    public const int Lanes = 16;

    /// <summary><paramref name="count"/> rounded up to a multiple of <see cref="Lanes"/>.</summary>
    public static int PaddedLength(int count) => (count + Lanes - 1) & ~(Lanes - 1);

    /// <summary>
    /// For the first <paramref name="count"/> synapses: a reinforced one (<paramref name="on"/> ≠ 0) gains
    /// <paramref name="increment"/> capped at 1, any other loses <paramref name="decrement"/> and dies at ≤ 0. Writes
    /// the survivors (source, permanence, kind) in order, the dead sources in order, and the survivors whose
    /// permanence crossed <paramref name="connected"/> either way; returns the number of survivors, and
    /// <paramref name="connectedKept"/> of them at or above <paramref name="connected"/>.
    /// </summary>
    /// <remarks>Inputs and outputs must hold at least <see cref="PaddedLength"/>(count) entries; entries past
    /// <paramref name="count"/> are read but ignored, and outputs may be written past their counts.</remarks>
    public static int UpdatePermanences(
        int count,
        ReadOnlySpan<int> sources,
        ReadOnlySpan<float> permanences,
        ReadOnlySpan<byte> on,
        float increment,
        float decrement,
        float connected,
        in PermanenceUpdateOutput output,
        out int dead,
        out int crossed,
        out int connectedKept)
    {
        int padded = PaddedLength(count);
        if (sources.Length < padded || permanences.Length < padded || on.Length < padded
            || output.KeptSources.Length < padded || output.KeptPermanences.Length < padded || output.KeptKinds.Length < padded
            || output.DeadSources.Length < padded || output.Crossed.Length < padded)
        {
            throw new ArgumentException($"Every span must hold at least {padded} entries for {count} synapses.", nameof(count));
        }

        if (!Avx512F.IsSupported)
        {
            return UpdatePermanencesReference(count, sources, permanences, on, increment, decrement, connected, output, out dead, out crossed, out connectedKept);
        }

        ref int src = ref MemoryMarshal.GetReference(sources);
        ref float perm = ref MemoryMarshal.GetReference(permanences);
        ref byte onRef = ref MemoryMarshal.GetReference(on);
        ref int keptSrc = ref MemoryMarshal.GetReference(output.KeptSources);
        ref float keptPerm = ref MemoryMarshal.GetReference(output.KeptPermanences);
        ref byte keptKind = ref MemoryMarshal.GetReference(output.KeptKinds);
        ref int deadSrc = ref MemoryMarshal.GetReference(output.DeadSources);
        ref int crossedRef = ref MemoryMarshal.GetReference(output.Crossed);
        Vector512<float> inc = Vector512.Create(increment);
        Vector512<float> dec = Vector512.Create(decrement);
        Vector512<float> one = Vector512.Create(1.0f);
        Vector512<float> threshold = Vector512.Create(connected);
        Vector512<int> laneIndex = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int kept = 0;
        int deadCount = 0;
        int crossedCount = 0;
        int connectedCount = 0;
        for (int k = 0; k < count; k += Lanes)
        {
            Vector512<int> s = Vector512.LoadUnsafe(ref src, (nuint)k);
            Vector512<float> p = Vector512.LoadUnsafe(ref perm, (nuint)k);
            Vector512<int> kind = Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref onRef, (nuint)k));
            Vector512<int> inRange = Vector512.LessThan(laneIndex, Vector512.Create(count - k));
            Vector512<int> reinforced = ~Vector512.Equals(kind, Vector512<int>.Zero);
            Vector512<float> up = Vector512.Min(p + inc, one);
            Vector512<float> down = p - dec;
            Vector512<float> next = Vector512.ConditionalSelect(reinforced.AsSingle(), up, down);
            Vector512<int> nowConnected = Vector512.GreaterThanOrEqual(next, threshold).AsInt32();
            Vector512<int> died = Vector512.AndNot(Vector512.LessThanOrEqual(down, Vector512<float>.Zero).AsInt32(), reinforced) & inRange;
            Vector512<int> alive = Vector512.AndNot(inRange, died);
            Vector512<int> flipped = (Vector512.GreaterThanOrEqual(p, threshold).AsInt32() ^ nowConnected) & alive;
            Vector512<int> kindBit = reinforced & Vector512<int>.One;

            Avx512F.Compress(Vector512<int>.Zero, alive, s).StoreUnsafe(ref keptSrc, (nuint)kept);
            Avx512F.Compress(Vector512<float>.Zero, alive.AsSingle(), next).StoreUnsafe(ref keptPerm, (nuint)kept);
            Avx512F.ConvertToVector128Byte(Avx512F.Compress(Vector512<int>.Zero, alive, kindBit)).StoreUnsafe(ref keptKind, (nuint)kept);
            Avx512F.Compress(Vector512<int>.Zero, died, s).StoreUnsafe(ref deadSrc, (nuint)deadCount);
            Vector512<int> entry = Vector512.ShiftLeft(s, 1) | (nowConnected & Vector512<int>.One);
            Avx512F.Compress(Vector512<int>.Zero, flipped, entry).StoreUnsafe(ref crossedRef, (nuint)crossedCount);

            kept += BitOperations.PopCount(alive.ExtractMostSignificantBits());
            deadCount += BitOperations.PopCount(died.ExtractMostSignificantBits());
            crossedCount += BitOperations.PopCount(flipped.ExtractMostSignificantBits());
            connectedCount += BitOperations.PopCount((nowConnected & alive).ExtractMostSignificantBits());
        }

        dead = deadCount;
        crossed = crossedCount;
        connectedKept = connectedCount;
        return kept;
    }

    /// <summary>The scalar reference of <see cref="UpdatePermanences"/>: one synapse at a time, in order.</summary>
    public static int UpdatePermanencesReference(
        int count,
        ReadOnlySpan<int> sources,
        ReadOnlySpan<float> permanences,
        ReadOnlySpan<byte> on,
        float increment,
        float decrement,
        float connected,
        in PermanenceUpdateOutput output,
        out int dead,
        out int crossed,
        out int connectedKept)
    {
        int kept = 0;
        dead = 0;
        crossed = 0;
        connectedKept = 0;
        for (int k = 0; k < count; k++)
        {
            int s = sources[k];
            float p = permanences[k];
            bool reinforced = on[k] != 0;
            float next = reinforced ? MathF.Min(p + increment, 1.0f) : p - decrement;
            if (!reinforced && next <= 0f)
            {
                output.DeadSources[dead++] = s;
                continue;
            }

            output.KeptSources[kept] = s;
            output.KeptPermanences[kept] = next;
            output.KeptKinds[kept] = reinforced ? (byte)1 : (byte)0;
            kept++;
            connectedKept += next >= connected ? 1 : 0;
            if ((p >= connected) != (next >= connected))
            {
                output.Crossed[crossed++] = (s << 1) | (next >= connected ? 1 : 0);
            }
        }

        return kept;
    }
}
