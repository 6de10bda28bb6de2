using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// Kernels over the backtracking TM's per-segment activity counters (low byte: active synapses, high byte: active
/// connected synapses), with the scalar references the property tests compare the vector paths to.
/// </summary>
internal static class ActivityKernels
{
    /// <summary>
    /// Writes the ids of the counters of <paramref name="activity"/> whose low byte (all active synapses) is
    /// ≥ <paramref name="threshold"/> (1..255) to <paramref name="destination"/> in ascending order; returns how many.
    /// </summary>
    /// <remarks>
    /// One compare per 32 (or 16) counters gives a bit mask whose set bits are read off with a trailing-zero count:
    /// when thousands of segments qualify this beats a search call per hit. The scalar tail (and the whole scan
    /// without SIMD) gives the same ids.
    /// </remarks>
    public static int ScanAtLeast(ReadOnlySpan<ushort> activity, int threshold, Span<int> destination)
    {
        if (destination.Length < activity.Length)
        {
            throw new ArgumentException("The destination must hold an id per counter.", nameof(destination));
        }

        ref ushort counters = ref MemoryMarshal.GetReference(activity);
        ref int output = ref MemoryMarshal.GetReference(destination);
        int length = activity.Length;
        int n = 0;
        int i = 0;
        ushort below = (ushort)(threshold - 1);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<ushort> limit = Vector512.Create(below);
            Vector512<ushort> lowByte = Vector512.Create((ushort)0xFF);
            for (; i + Vector512<ushort>.Count <= length; i += Vector512<ushort>.Count)
            {
                Vector512<ushort> all = Vector512.LoadUnsafe(ref counters, (nuint)i) & lowByte;
                ulong mask = Vector512.GreaterThan(all, limit).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    Unsafe.Add(ref output, n++) = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                }
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ushort> limit = Vector256.Create(below);
            Vector256<ushort> lowByte = Vector256.Create((ushort)0xFF);
            for (; i + Vector256<ushort>.Count <= length; i += Vector256<ushort>.Count)
            {
                Vector256<ushort> all = Vector256.LoadUnsafe(ref counters, (nuint)i) & lowByte;
                uint mask = Vector256.GreaterThan(all, limit).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    Unsafe.Add(ref output, n++) = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                }
            }
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref output, n) = i;
            n += (Unsafe.Add(ref counters, i) & 0xFF) > below ? 1 : 0;
        }

        return n;
    }

    /// <summary>
    /// <see cref="ScanAtLeast"/>, and every counter below <paramref name="threshold"/> set to 0 in the same pass, so
    /// that only the listed counters are left to clear before the next count.
    /// </summary>
    /// <remarks>
    /// The counters are in the cache lines the scan just loaded, so the stores cost little, where clearing the
    /// whole array before each count was a separate pass over it (Core README, item 27).
    /// </remarks>
    public static int ScanAtLeastClearingBelow(Span<ushort> activity, int threshold, Span<int> destination)
    {
        if (destination.Length < activity.Length)
        {
            throw new ArgumentException("The destination must hold an id per counter.", nameof(destination));
        }

        ref ushort counters = ref MemoryMarshal.GetReference(activity);
        ref int output = ref MemoryMarshal.GetReference(destination);
        int length = activity.Length;
        int n = 0;
        int i = 0;
        ushort below = (ushort)(threshold - 1);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<ushort> limit = Vector512.Create(below);
            Vector512<ushort> lowByte = Vector512.Create((ushort)0xFF);
            for (; i + Vector512<ushort>.Count <= length; i += Vector512<ushort>.Count)
            {
                Vector512<ushort> counts = Vector512.LoadUnsafe(ref counters, (nuint)i);
                Vector512<ushort> keep = Vector512.GreaterThan(counts & lowByte, limit);
                (counts & keep).StoreUnsafe(ref counters, (nuint)i);
                ulong mask = keep.ExtractMostSignificantBits();
                while (mask != 0)
                {
                    Unsafe.Add(ref output, n++) = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                }
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ushort> limit = Vector256.Create(below);
            Vector256<ushort> lowByte = Vector256.Create((ushort)0xFF);
            for (; i + Vector256<ushort>.Count <= length; i += Vector256<ushort>.Count)
            {
                Vector256<ushort> counts = Vector256.LoadUnsafe(ref counters, (nuint)i);
                Vector256<ushort> keep = Vector256.GreaterThan(counts & lowByte, limit);
                (counts & keep).StoreUnsafe(ref counters, (nuint)i);
                uint mask = keep.ExtractMostSignificantBits();
                while (mask != 0)
                {
                    Unsafe.Add(ref output, n++) = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                }
            }
        }

        for (; i < length; i++)
        {
            ref ushort counter = ref Unsafe.Add(ref counters, i);
            bool keep = (counter & 0xFF) > below;
            counter = keep ? counter : (ushort)0;
            Unsafe.Add(ref output, n) = i;
            n += keep ? 1 : 0;
        }

        return n;
    }

    /// <summary>The scalar reference of <see cref="ScanAtLeastClearingBelow"/>, which the property tests compare it to.</summary>
    public static int ScanAtLeastClearingBelowReference(Span<ushort> activity, int threshold, Span<int> destination)
    {
        int n = ScanAtLeastReference(activity, threshold, destination);
        for (int i = 0; i < activity.Length; i++)
        {
            if ((activity[i] & 0xFF) < threshold)
            {
                activity[i] = 0;
            }
        }

        return n;
    }

    /// <summary>The scalar reference of <see cref="ScanAtLeast"/>, which the property tests compare it to.</summary>
    public static int ScanAtLeastReference(ReadOnlySpan<ushort> activity, int threshold, Span<int> destination)
    {
        int n = 0;
        for (int i = 0; i < activity.Length; i++)
        {
            if ((activity[i] & 0xFF) >= threshold)
            {
                destination[n++] = i;
            }
        }

        return n;
    }
}
