using HtmEngine.Core.Anomaly;

namespace HtmEngine.Runtime.Anomaly;

/// <summary>
/// A metric's newest scored rows in memory (a ring of <c>statistics_sample_size</c> rows) and how many scored rows it
/// has, so the likelihood's refreshes read no database. Valid while <see cref="CoveredRowid"/> equals the rowid
/// persisted in <c>model_params</c>: then no other writer fed rows in between.
/// </summary>
internal sealed class ScoredRowHistory : IScoredRowHistory
{
    private readonly ScoredRow[] _ring;
    private int _head;
    private int _length;

    public ScoredRowHistory(int capacity, long scoredCount, long coveredRowid)
    {
        _ring = new ScoredRow[Math.Max(1, capacity)];
        ScoredCount = scoredCount;
        CoveredRowid = coveredRowid;
    }

    /// <summary>The newest row fed (appended) so far.</summary>
    public long CoveredRowid { get; private set; }

    /// <summary>How many scored rows the metric has.</summary>
    public long ScoredCount { get; private set; }

    /// <summary>Appends a row loaded from the database (ascending order) without counting it.</summary>
    public void Load(ScoredRow row) => Push(row);

    /// <summary>Appends a newly scored row.</summary>
    public void Append(ScoredRow row)
    {
        Push(row);
        ScoredCount++;
        CoveredRowid = row.RowId;
    }

    /// <inheritdoc/>
    public long CountScoredRows() => ScoredCount;

    /// <inheritdoc/>
    public void ReadNewestScoredRows(int limit, List<ScoredRow> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        int n = Math.Min(limit, _length);
        int capacity = _ring.Length;
        int start = (_head - n + capacity) % capacity;
        for (int i = 0; i < n; i++)
        {
            destination.Add(_ring[(start + i) % capacity]);
        }
    }

    private void Push(ScoredRow row)
    {
        _ring[_head] = row;
        _head = (_head + 1) % _ring.Length;
        if (_length < _ring.Length)
        {
            _length++;
        }
    }
}
