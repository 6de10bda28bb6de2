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
