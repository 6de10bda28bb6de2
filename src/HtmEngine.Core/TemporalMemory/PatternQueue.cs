namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// A bounded FIFO of past active-column lists (the TM's replay history). Each entry's storage starts small and grows
/// to the longest list it has held: a pattern is the step's active columns (40 with the NAB parameters), so sizing
/// every entry for all columns cost 140 KB per model.
/// </summary>
internal sealed class PatternQueue
{
    private const int InitialSlotLength = 64;

    private readonly int _columns;
    private readonly int[][] _slots;
    private readonly int[] _lengths;
    private int _head;
    private int _count;

    public PatternQueue(int capacity, int columns)
    {
        capacity = Math.Max(capacity, 1);
        _columns = columns;
        _slots = new int[capacity][];
        _lengths = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _slots[i] = new int[Math.Min(columns, InitialSlotLength)];
        }
    }

    public int Count => _count;

    public int Capacity => _slots.Length;

    public ReadOnlySpan<int> this[int index]
    {
        get
        {
            int slot = (_head + index) % _slots.Length;
            return new ReadOnlySpan<int>(_slots[slot], 0, _lengths[slot]);
        }
    }

    /// <summary>Appends a copy; the caller drops the oldest entry first when the queue is full.</summary>
    public void Push(ReadOnlySpan<int> columns)
    {
        int slot = (_head + _count) % _slots.Length;
        if (_slots[slot].Length < columns.Length)
        {
            _slots[slot] = new int[Math.Max(columns.Length, _slots[slot].Length * 2)];
        }

        columns.CopyTo(_slots[slot]);
        _lengths[slot] = columns.Length;
        _count++;
    }

    /// <summary>Sizes every entry for the longest possible list, so that <see cref="Push"/> never allocates.</summary>
    public void ReserveAll()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].Length < _columns)
            {
                int[] grown = new int[_columns];
                _slots[i].AsSpan(0, _lengths[i]).CopyTo(grown);
                _slots[i] = grown;
            }
        }
    }

    public void PopFront(int n)
    {
        n = Math.Min(n, _count);
        _head = (_head + n) % _slots.Length;
        _count -= n;
    }

    public void Clear()
    {
        _head = 0;
        _count = 0;
    }
}
