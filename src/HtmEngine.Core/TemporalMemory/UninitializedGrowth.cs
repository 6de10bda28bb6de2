namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// Growth of the TM's storage into arrays that are not zeroed (<see cref="GC.AllocateUninitializedArray{T}"/>): a young
/// model's segment arrays and forward index grow several times in its first rows, and zeroing each new array cost as
/// much as copying the old one and touched pages the model would not reach for many steps. The new entries hold
/// whatever the allocator hands out (zeros from fresh memory, an earlier object's bytes from recycled memory), so the
/// owner must write an entry before it reads it.
/// </summary>
internal static class UninitializedGrowth
{
    /// <summary>
    /// Tests set this to fill every new entry with 0xFF bytes, which no live state holds by chance (−1 as an int, NaN as
    /// a float): a model grown so must compute exactly what a model grown into zeroed arrays computes. Reading it costs
    /// one load per growth.
    /// </summary>
    internal static volatile bool PoisonForTests;

    /// <summary>A new array of <paramref name="length"/> entries, none initialised.</summary>
    public static T[] New<T>(int length)
        where T : unmanaged => Grown(Array.Empty<T>(), length, 0);

    /// <summary>
    /// A new array of <paramref name="length"/> entries holding the first <paramref name="keep"/> entries of
    /// <paramref name="old"/>; the rest is not initialised.
    /// </summary>
    /// <remarks>
    /// The array is allocated on the pinned object heap, which the GC never compacts. Grown storage lives as long as
    /// its model: below the large-object threshold (85,000 bytes) it would start in generation 0 and be copied by the
    /// GC into generation 1 and then 2, touching fresh pages each time, and a generation-0 array comes out of memory
    /// the GC zeroes whatever the caller asked (Core README, item 31).
    /// </remarks>
    public static T[] Grown<T>(T[] old, int length, int keep)
        where T : unmanaged
    {
        T[] grown = GC.AllocateUninitializedArray<T>(length, pinned: true);
        old.AsSpan(0, keep).CopyTo(grown);
        if (PoisonForTests)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(grown.AsSpan(keep)).Fill(0xFF);
        }

        return grown;
    }
}
