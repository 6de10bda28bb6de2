namespace HtmEngine.Core.TemporalMemory;

/// <summary>A bounded FIFO of past active-column lists with preallocated storage (the TM's replay history).</summary>
internal sealed class PatternQueue
{
    private readonly int[][] _slots;
    private readonly int[] _lengths;
    private int _head;
    private int _count;

    public PatternQueue(int capacity, int columns)
    {
        capacity = Math.Max(capacity, 1);
        _slots = new int[capacity][];
        _lengths = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _slots[i] = new int[columns];
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
        columns.CopyTo(_slots[slot]);
        _lengths[slot] = columns.Length;
        _count++;
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
