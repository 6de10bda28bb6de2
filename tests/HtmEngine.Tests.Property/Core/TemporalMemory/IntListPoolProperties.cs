using FsCheck.Xunit;
using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Tests.Property.Core.TemporalMemory;

/// <summary>
/// <see cref="IntListPool"/> against a list per key, with its backing array grown into poisoned (0xFF) memory: growth
/// copies only the used entries and leaves the rest unwritten, so no list may ever read an entry it did not write, and
/// a checkpoint (which writes every used entry, the blocks' slack included) must not see the poison either.
/// </summary>
public class IntListPoolProperties
{
    [Property(MaxTest = 200)]
    public bool Grown_pools_hold_what_lists_hold(byte[] ops, int seed)
    {
        return Run(ops, seed, poison: true, out byte[] poisoned) && Run(ops, seed, poison: false, out byte[] plain) && poisoned.AsSpan().SequenceEqual(plain);
    }

    private static bool Run(byte[] ops, int seed, bool poison, out byte[] saved)
    {
        saved = [];
        const int lists = 7;
        var pool = new IntListPool(lists, 64);
        var model = new List<int>[lists];
        for (int i = 0; i < lists; i++)
        {
            model[i] = [];
        }

        var rng = new Random(seed);
        try
        {
            UninitializedGrowth.PoisonForTests = poison;
            foreach (byte op in ops)
            {
                // Mostly adds (in runs, so lists reach large size classes and the backing array grows past 4× its start).
                int list = op % lists;
                int kind = (op >> 3) % 8;
                if (kind <= 4)
                {
                    for (int k = 0; k < 1 + (op >> 5) * 9; k++)
                    {
                        int v = rng.Next(1000);
                        pool.Add(list, v);
                        model[list].Add(v);
                    }
                }
                else if (kind == 5 && model[list].Count > 0)
                {
                    int v = model[list][rng.Next(model[list].Count)];
                    pool.RemoveSwapEither(list, v, -7);
                    int i = model[list].LastIndexOf(v);
                    model[list][i] = model[list][^1];
                    model[list].RemoveAt(model[list].Count - 1);
                }
                else if (kind == 6 && model[list].Count > 0)
                {
                    pool.RemoveLast(list);
                    model[list].RemoveAt(model[list].Count - 1);
                }
                else if (kind == 7)
                {
                    int at = rng.Next(model[list].Count + 1);
                    int v = rng.Next(1000);
                    pool.Insert(list, at, v);
                    model[list].Insert(at, v);
                }

                for (int i = 0; i < lists; i++)
                {
                    if (!pool.Get(i).SequenceEqual(model[i].ToArray()))
                    {
                        return false;
                    }
                }
            }
        }
        finally
        {
            UninitializedGrowth.PoisonForTests = false;
        }

        var writer = new CheckpointWriter(0x7402, 1);
        pool.Save(writer);
        saved = writer.Complete();
        return true;
    }
}
