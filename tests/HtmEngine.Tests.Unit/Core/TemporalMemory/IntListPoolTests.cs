using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Tests.Unit.Core.TemporalMemory;

public class IntListPoolTests
{
    [Fact]
    public void Prefetching_a_list_changes_nothing_and_never_faults()
    {
        // Prefetch computes an address from the list's offset and asks for the list's lines from there: an empty list,
        // a list shorter than a line, one longer than the cap and the list at the very end of the backing array must
        // all be safe, and no entry may change.
        int[] lengths = [0, 1, 15, 16, 17, 64, 1100, 3];
        var pool = new IntListPool(lengths.Length, initialCapacity: 8);
        for (int list = 0; list < lengths.Length; list++)
        {
            for (int k = 0; k < lengths[list]; k++)
            {
                pool.Add(list, (list * 1000) + k);
            }
        }

        for (int list = 0; list < lengths.Length; list++)
        {
            pool.Prefetch(list);
        }

        for (int list = 0; list < lengths.Length; list++)
        {
            Span<int> entries = pool.Get(list);
            Assert.Equal(lengths[list], entries.Length);
            for (int k = 0; k < entries.Length; k++)
            {
                Assert.Equal((list * 1000) + k, entries[k]);
            }
        }
    }
}
