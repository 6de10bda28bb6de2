namespace HtmEngine.Tests.Unit.Core.TemporalMemory;

/// <summary>Column-set streams standing in for the spatial pooler's output.</summary>
internal static class TmStreams
{
    public static int[] RandomSet(Random rng, int active = 40, int columns = 2048)
    {
        var set = new HashSet<int>();
        while (set.Count < active)
        {
            set.Add(rng.Next(columns));
        }

        int[] result = [.. set];
        Array.Sort(result);
        return result;
    }

    public static int[][] Sequence(int length, int seed, int active = 40, int columns = 2048)
    {
        var rng = new Random(seed);
        var seq = new int[length][];
        for (int i = 0; i < length; i++)
        {
            seq[i] = RandomSet(rng, active, columns);
        }

        return seq;
    }

    /// <summary>Replaces <paramref name="flips"/> columns of <paramref name="set"/> by random others.</summary>
    public static int[] WithNoise(int[] set, Random rng, int flips, int columns = 2048)
    {
        var result = new HashSet<int>(set);
        for (int i = 0; i < flips; i++)
        {
            result.Remove(set[rng.Next(set.Length)]);
        }

        while (result.Count < set.Length)
        {
            result.Add(rng.Next(columns));
        }

        int[] r = [.. result];
        Array.Sort(r);
        return r;
    }
}
