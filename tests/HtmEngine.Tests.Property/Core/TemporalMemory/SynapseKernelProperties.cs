using FsCheck.Xunit;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Tests.Property.Core.TemporalMemory;

/// <summary>The vector permanence update of adaptSegment against its scalar reference.</summary>
public class SynapseKernelProperties
{
    // Permanences that sit on the decisions' edges for the NAB parameters (inc 0.1, dec 0.1, connected 0.5), so that
    // "dies at ≤ 0", "capped at 1" and "crosses connectedPerm" are hit exactly, not only near.
    private static readonly float[] s_edges = [0f, 0.1f, 0.2f, 0.4f, 0.5f, 0.6f, 0.9f, 1f, 0.09999999f, 0.49999997f, 0.50000006f];

    [Property(MaxTest = 500)]
    public bool UpdatePermanences_equals_the_reference(byte length, int seed, bool edgy)
    {
        int count = length % 70;
        int padded = SynapseKernels.PaddedLength(count) + (seed & 1) * SynapseKernels.Lanes;
        var random = new Random(seed);
        var sources = new int[padded];
        var permanences = new float[padded];
        var on = new byte[padded];
        for (int i = 0; i < padded; i++)
        {
            // Entries past count are garbage on purpose: the kernel must ignore them.
            sources[i] = random.Next(1 << 20);
            permanences[i] = edgy && random.Next(3) > 0 ? s_edges[random.Next(s_edges.Length)] : (float)random.NextDouble();
            on[i] = (byte)random.Next(2);
        }

        (int kept, int dead, int crossed, int connected, Outputs values) expected = Run(count, sources, permanences, on, reference: true);
        (int kept, int dead, int crossed, int connected, Outputs values) actual = Run(count, sources, permanences, on, reference: false);
        return expected.kept == actual.kept && expected.dead == actual.dead && expected.crossed == actual.crossed
            && expected.connected == actual.connected
            && expected.values.Sources.AsSpan(0, expected.kept).SequenceEqual(actual.values.Sources.AsSpan(0, actual.kept))
            && expected.values.Permanences.AsSpan(0, expected.kept).SequenceEqual(actual.values.Permanences.AsSpan(0, actual.kept))
            && expected.values.Kinds.AsSpan(0, expected.kept).SequenceEqual(actual.values.Kinds.AsSpan(0, actual.kept))
            && expected.values.Dead.AsSpan(0, expected.dead).SequenceEqual(actual.values.Dead.AsSpan(0, actual.dead))
            && expected.values.Crossed.AsSpan(0, expected.crossed).SequenceEqual(actual.values.Crossed.AsSpan(0, actual.crossed));
    }

    [Property(MaxTest = 50)]
    public bool UpdatePermanences_rejects_spans_shorter_than_the_padded_length(byte length)
    {
        int count = 1 + (length % 60);
        var tooShort = new int[count - 1];
        var fine = new int[SynapseKernels.PaddedLength(count)];
        var perm = new float[fine.Length];
        var on = new byte[fine.Length];
        var output = new PermanenceUpdateOutput(new int[fine.Length], new float[fine.Length], new byte[fine.Length], new int[fine.Length], new int[fine.Length]);
        try
        {
            SynapseKernels.UpdatePermanences(count, tooShort, perm, on, 0.1f, 0.1f, 0.5f, output, out _, out _, out _);
            return false;
        }
        catch (ArgumentException e)
        {
            return e.Message.Contains("at least", StringComparison.Ordinal);
        }
    }

    private static (int Kept, int Dead, int Crossed, int Connected, Outputs Values) Run(int count, int[] sources, float[] permanences, byte[] on, bool reference)
    {
        var values = new Outputs(sources.Length);
        var output = new PermanenceUpdateOutput(values.Sources, values.Permanences, values.Kinds, values.Dead, values.Crossed);
        int kept = reference
            ? SynapseKernels.UpdatePermanencesReference(count, sources, permanences, on, 0.1f, 0.1f, 0.5f, output, out int dead, out int crossed, out int connected)
            : SynapseKernels.UpdatePermanences(count, sources, permanences, on, 0.1f, 0.1f, 0.5f, output, out dead, out crossed, out connected);
        return (kept, dead, crossed, connected, values);
    }

    private sealed class Outputs(int length)
    {
        public int[] Sources { get; } = new int[length];

        public float[] Permanences { get; } = new float[length];

        public byte[] Kinds { get; } = new byte[length];

        public int[] Dead { get; } = new int[length];

        public int[] Crossed { get; } = new int[length];
    }
}
