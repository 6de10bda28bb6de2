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

    private readonly int[] _offset;
    private readonly int[] _count;
    private readonly byte[] _sizeClass; // 0 = no block, k + 1 = block of MinCapacity << k
    private readonly int[] _freeHead = new int[SizeClasses];
    private int[] _data;
    private int _used;

    public IntListPool(int listCount, int initialCapacity)
    {
        _offset = new int[listCount];
        _count = new int[listCount];
        _sizeClass = new byte[listCount];
        _data = new int[Math.Max(initialCapacity, 64)];
        _freeHead.AsSpan().Fill(-1);
    }

    public int ListCount => _offset.Length;

    public int Count(int list) => _count[list];

    public Span<int> Get(int list) => new(_data, _offset[list], _count[list]);

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

    /// <summary>Removes one occurrence of <paramref name="value"/> by moving the last entry into its place.</summary>
    public bool RemoveSwap(int list, int value)
    {
        Span<int> items = Get(list);
        for (int i = items.Length - 1; i >= 0; i--)
        {
            if (items[i] == value)
            {
                items[i] = items[^1];
                _count[list]--;
                return true;
            }
        }

        return false;
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
                Array.Resize(ref _data, Math.Max(_data.Length * 2, _used + newCapacity));
            }

            block = _used;
            _used += newCapacity;
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

    /// <summary>Makes the backing array hold at least <paramref name="capacity"/> entries.</summary>
    public void Reserve(int capacity)
    {
        if (_data.Length < capacity)
        {
            Array.Resize(ref _data, capacity);
        }
    }

    public void Save(Checkpoints.CheckpointWriter writer)
    {
        writer.WriteInt32(_used);
        writer.WriteSpan(_data.AsSpan(0, _used));
        writer.WriteSpan<int>(_offset);
        writer.WriteSpan<int>(_count);
        writer.WriteSpan<byte>(_sizeClass);
        writer.WriteSpan<int>(_freeHead);
    }

    public void Load(ref Checkpoints.CheckpointReader reader)
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
    }
}
