namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// A set of cells as a byte flag per cell plus the list of members in insertion order, so that clearing and
/// iterating cost the number of members, not the number of cells.
/// </summary>
internal sealed class CellSet
{
    private readonly byte[] _flags;
    private readonly int[] _members;
    private int _count;

    public CellSet(int cellCount)
    {
        _flags = new byte[cellCount];
        _members = new int[cellCount];
    }

    public int Count => _count;

    /// <summary>The membership flags (non-zero = member), for tight loops.</summary>
    public byte[] Flags => _flags;

    public ReadOnlySpan<int> Members => new(_members, 0, _count);

    public bool Contains(int cell) => _flags[cell] != 0;

    public void Add(int cell)
    {
        if (_flags[cell] == 0)
        {
            _flags[cell] = 1;
            _members[_count++] = cell;
        }
    }

    public void Clear()
    {
        for (int i = 0; i < _count; i++)
        {
            _flags[_members[i]] = 0;
        }

        _count = 0;
    }

    public void CopyFrom(CellSet other)
    {
        Clear();
        ReadOnlySpan<int> src = other.Members;
        for (int i = 0; i < src.Length; i++)
        {
            _flags[src[i]] = 1;
        }

        src.CopyTo(_members);
        _count = src.Length;
    }

    /// <summary>Sorts the member list (membership is unchanged); checkpoints and samplers want cell order.</summary>
    public void SortMembers() => _members.AsSpan(0, _count).Sort();

    public void LoadMembers(ReadOnlySpan<int> cells)
    {
        Clear();
        for (int i = 0; i < cells.Length; i++)
        {
            Add(cells[i]);
        }
    }
}
