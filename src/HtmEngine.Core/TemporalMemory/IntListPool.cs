using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// Many small growable int lists in one array: list i lives in a block of capacity 4·2^k; a full list moves to a
/// block twice as large and its old block goes onto a free list of its size class. The backing array doubles
/// when the free lists are empty, so after warm-up adding and removing never allocates.
/// </summary>
internal sealed class IntListPool
{
    private const int MinCapacity = 4;
    private const int SizeClasses = 24;

    // Below this many entries the backing array grows fourfold instead of twofold: a young model's forward index goes
    // from 4,096 entries to ~65,000 in its first 100 rows, and every doubling's copy touched memory that is garbage
    // after it (the untouched tail of a larger array costs no page until used, see GrowData). Past it, an old
    // model's index doubles as before.
    private const int QuadrupleBelow = 1 << 18;

    private readonly int[] _offset;
    private readonly int[] _count;
    private readonly byte[] _sizeClass; // 0 = no block, k + 1 = block of MinCapacity << k
    private readonly int[] _freeHead = new int[SizeClasses];
    private readonly int _entriesPerGrownSegment; // a growth makes room for this many entries per segment of a TM's first growth (see BacktrackingTm.GrownSegments)
    private int[] _data;
    private int _used;

    public IntListPool(int listCount, int initialCapacity, int entriesPerGrownSegment = 0)
    {
        _entriesPerGrownSegment = entriesPerGrownSegment;
        _offset = new int[listCount];
        _count = new int[listCount];
        _sizeClass = new byte[listCount];
        _data = new int[Math.Max(initialCapacity, 64)];
        _freeHead.AsSpan().Fill(-1);
    }

    public int ListCount => _offset.Length;

    public int Count(int list) => _count[list];

    public Span<int> Get(int list) => new(_data, _offset[list], _count[list]);

    /// <summary>
    /// Hints the CPU to fetch the entries of <paramref name="list"/> (up to 64 lines of 64 bytes, 1,024 entries): lists
    /// sit anywhere in the pool, so each one a loop moves on to starts with misses that the hardware prefetcher,
    /// which follows a list only once inside it, hides too late.
    /// </summary>
    /// <remarks>
    /// The whole list rather than its first lines: an old model's active cells have hundreds of links each, and the
    /// count ran 8–10 % faster on a three-file model with a cap of 32 or 64 lines than with 4 (Core README, item 30).
    /// A prefetch never faults and changes no value; on other platforms this does nothing.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(int list)
    {
        if (Sse.IsSupported)
        {
            int lines = Math.Min(64, (_count[list] + 15) >> 4);
            byte* start = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_data), _offset[list]));
            for (int i = 0; i < lines; i++)
            {
                Sse.Prefetch0(start + (64 * i));
            }
        }
    }

    public void Add(int list, int value)
    {
        int n = _count[list];
        int cls = _sizeClass[list];
        if (cls == 0 || n == MinCapacity << (cls - 1))
        {
            Grow(list, cls);
        }

        _data[_offset[list] + n] = value;
        _count[list] = n + 1;
    }

    /// <summary>Inserts at <paramref name="index"/>, shifting later entries up (keeps order).</summary>
    public void Insert(int list, int index, int value)
    {
        Add(list, value);
        Span<int> items = Get(list);
        items[index..^1].CopyTo(items[(index + 1)..]);
        items[index] = value;
    }

    /// <summary>
    /// Removes the last entry equal to <paramref name="value"/> or <paramref name="alternative"/> (one key in its
    /// two tagged forms) by moving the last entry into its place.
    /// </summary>
    public bool RemoveSwapEither(int list, int value, int alternative)
    {
        Span<int> items = Get(list);
        int i = items.LastIndexOfAny(value, alternative);
        if (i < 0)
        {
            return false;
        }

        items[i] = items[^1];
        _count[list]--;
        return true;
    }

    /// <summary>Replaces one occurrence of <paramref name="oldValue"/> by <paramref name="newValue"/>; false when absent.</summary>
    public bool Replace(int list, int oldValue, int newValue)
    {
        Span<int> items = Get(list);
        int i = items.IndexOf(oldValue);
        if (i < 0)
        {
            return false;
        }

        items[i] = newValue;
        return true;
    }

    public void RemoveLast(int list) => _count[list]--;

    public void Clear(int list) => _count[list] = 0;

    private void Grow(int list, int cls)
    {
        int newCls = cls + 1;
        int newCapacity = MinCapacity << (newCls - 1);
        int block = _freeHead[newCls - 1];
        if (block >= 0)
        {
            _freeHead[newCls - 1] = _data[block];
        }
        else
        {
            if (_used + newCapacity > _data.Length)
            {
                int capacity = Math.Max(_data.Length * (_data.Length < QuadrupleBelow ? 4 : 2), _used + newCapacity);
                if (_entriesPerGrownSegment > 0 && capacity < QuadrupleBelow)
                {
                    capacity = Math.Max(capacity, _entriesPerGrownSegment * BacktrackingTm.GrownSegments());
                }

                GrowData(capacity);
            }

            block = _used;
            _used += newCapacity;

            // A checkpoint writes every used entry, a block's unwritten slack included, and that slack must read as it
            // did when the backing array was zeroed on growth (see GrowData): 0.
            _data.AsSpan(block, newCapacity).Clear();
        }

        if (cls != 0)
        {
            int old = _offset[list];
            _data.AsSpan(old, _count[list]).CopyTo(_data.AsSpan(block));
            _data[old] = _freeHead[cls - 1];
            _freeHead[cls - 1] = old;
        }

        _offset[list] = block;
        _sizeClass[list] = (byte)newCls;
    }

    /// <summary>Whether no list holds or ever held a block (a pool as new).</summary>
    public bool IsEmpty => _used == 0 && _count.AsSpan().IndexOfAnyExcept(0) < 0;

    /// <summary>Writes exactly what <see cref="Save"/> writes for a new pool of <paramref name="listCount"/> lists, without one.</summary>
    public static void SaveEmpty(Checkpoints.CheckpointWriter writer, int listCount)
    {
        writer.WriteInt32(0); // used
        writer.WriteSpan(ReadOnlySpan<int>.Empty); // data
        Span<int> zeros = stackalloc int[256];
        zeros.Clear();
        for (int pass = 0; pass < 2; pass++)
        {
            // offsets, then counts
            writer.WriteInt32(listCount);
            for (int done = 0; done < listCount; done += zeros.Length)
            {
                writer.WriteElements<int>(zeros[..Math.Min(zeros.Length, listCount - done)]);
            }
        }

        writer.WriteInt32(listCount); // size classes
        for (int done = 0; done < listCount; done += zeros.Length * sizeof(int))
        {
            writer.WriteElements<byte>(System.Runtime.InteropServices.MemoryMarshal.AsBytes(zeros)[..Math.Min(zeros.Length * sizeof(int), listCount - done)]);
        }

        Span<int> heads = stackalloc int[SizeClasses];
        heads.Fill(-1);
        writer.WriteSpan<int>(heads);
    }

    /// <summary>Makes the backing array hold at least <paramref name="capacity"/> entries.</summary>
    public void Reserve(int capacity)
    {
        if (_data.Length < capacity)
        {
            GrowData(capacity);
        }
    }

    /// <summary>
    /// Replaces the backing array by one of <paramref name="capacity"/> entries holding the used ones. The rest is not
    /// zeroed: nothing reads past <c>_used</c>, and Grow clears a block when it takes it from there.
    /// </summary>
    /// <remarks>A young model's forward index doubles several times in its first rows; zeroing each new array was
    /// half the cost of a doubling and touched memory the lists would not reach for a while.</remarks>
    private void GrowData(int capacity)
    {
        _data = UninitializedGrowth.Grown(_data, capacity, _used);
    }

    /// <summary>
    /// Writes the pool; with <paramref name="valueShift"/> every stored value (not the free lists' links) is written
    /// shifted right (unsigned) by that many bits, which strips tag bits the file does not hold.
    /// </summary>
    public void Save(Checkpoints.CheckpointWriter writer, int valueShift = 0)
    {
        writer.WriteInt32(_used);
        if (valueShift == 0)
        {
            writer.WriteSpan(_data.AsSpan(0, _used));
        }
        else
        {
            int[] copy = System.Buffers.ArrayPool<int>.Shared.Rent(Math.Max(_used, 1));
            Span<int> values = copy.AsSpan(0, _used);
            _data.AsSpan(0, _used).CopyTo(values);
            ShiftValues(values, valueShift, left: false);
            writer.WriteSpan(values);
            System.Buffers.ArrayPool<int>.Shared.Return(copy);
        }

        writer.WriteSpan<int>(_offset);
        writer.WriteSpan<int>(_count);
        writer.WriteSpan<byte>(_sizeClass);
        writer.WriteSpan<int>(_freeHead);
    }

    /// <summary>Reads a pool written by <see cref="Save"/>; <paramref name="valueShift"/> shifts every stored value left (see Save).</summary>
    public void Load(ref Checkpoints.CheckpointReader reader, int valueShift = 0)
    {
        int used = reader.ReadInt32();
        if (used < 0 || used > 1 << 28)
        {
            throw new Checkpoints.CheckpointFormatException("Int list pool size is impossible.");
        }

        if (_data.Length < used)
        {
            _data = new int[used];
        }

        reader.ReadSpan(_data.AsSpan(0, used));
        _used = used;
        reader.ReadSpan<int>(_offset);
        reader.ReadSpan<int>(_count);
        reader.ReadSpan<byte>(_sizeClass);
        reader.ReadSpan<int>(_freeHead);
        if (valueShift != 0)
        {
            ShiftValues(_data.AsSpan(0, used), valueShift, left: true);
        }
    }

    /// <summary>Shifts every word of <paramref name="values"/> (the used data or a copy of it) except the free lists' links.</summary>
    private void ShiftValues(Span<int> values, int shift, bool left)
    {
        // The first word of each free block links to the next free block of its size: those words keep their value.
        var links = new List<(int Position, int Value)>();
        for (int cls = 0; cls < SizeClasses; cls++)
        {
            for (int block = _freeHead[cls]; block >= 0; block = _data[block])
            {
                if ((uint)block >= (uint)values.Length || links.Count >= values.Length)
                {
                    throw new Checkpoints.CheckpointFormatException("Int list pool free list is broken.");
                }

                links.Add((block, values[block]));
            }
        }

        for (int i = 0; i < values.Length; i++)
        {
            values[i] = left ? values[i] << shift : (int)((uint)values[i] >> shift);
        }

        foreach ((int position, int value) in links)
        {
            values[position] = value;
        }
    }
}
