using System.Runtime.CompilerServices;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// A set of cells as a byte flag per cell plus the list of members in insertion order, so that clearing and
/// iterating cost the number of members, not the number of cells.
/// </summary>
/// <remarks>
/// The member list starts small and doubles when a set outgrows it: a model holds ten of these and its sets rarely
/// exceed a few thousand of its 65,536 cells, so sizing every list for all cells cost 2.5 MB per model.
/// </remarks>
internal sealed class CellSet
{
    private const int InitialCapacity = 512;

    private readonly byte[] _flags;
    private int[] _members;
    private int _count;

    public CellSet(int cellCount)
    {
        _flags = new byte[cellCount];
        _members = new int[Math.Min(cellCount, InitialCapacity)];
    }

    public int Count => _count;

    /// <summary>The membership flags (non-zero = member), for tight loops.</summary>
    public byte[] Flags => _flags;

    public ReadOnlySpan<int> Members => new(_members, 0, _count);

    public bool Contains(int cell) => _flags[cell] != 0;

    /// <remarks>Inlined into the phase loops that add most cells; the rare growth stays out of line.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int cell)
    {
        if (_flags[cell] == 0)
        {
            if (_count == _members.Length)
            {
                Grow();
            }

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
        Reserve(src.Length);
        for (int i = 0; i < src.Length; i++)
        {
            _flags[src[i]] = 1;
        }

        src.CopyTo(_members);
        _count = src.Length;
    }

    /// <summary>Makes the member list hold at least <paramref name="capacity"/> cells (doubling, at most all cells).</summary>
    public void Reserve(int capacity)
    {
        if (_members.Length < capacity)
        {
            int size = Math.Min(Math.Max(capacity, _members.Length * 2), _flags.Length);
            Array.Resize(ref _members, size);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow() => Reserve(_count + 1);

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
