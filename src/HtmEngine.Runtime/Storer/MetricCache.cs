namespace HtmEngine.Runtime.Storer;

/// <summary>
/// The storer's bounded name → uid cache (case-sensitive, like the repository's name lookup). When it outgrows its
/// capacity the least recently used third is dropped in one pass (O(n log n) once per n/3 insertions), as the
/// original trimmed its 15,000-entry cache to 10,000. Single-threaded: only the storer's handler uses it.
/// </summary>
internal sealed class MetricCache(int capacity)
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _clock;

    /// <summary>Entries held.</summary>
    public int Count => _entries.Count;

    /// <summary>Looks a name up and marks it used.</summary>
    /// <param name="name">The metric name.</param>
    /// <param name="uid">Its uid when found.</param>
    /// <returns>True when cached.</returns>
    public bool TryGet(string name, out string uid)
    {
        if (_entries.TryGetValue(name, out var entry))
        {
            entry.LastUse = ++_clock;
            uid = entry.Uid;
            return true;
        }

        uid = string.Empty;
        return false;
    }

    /// <summary>Adds or replaces a name's uid.</summary>
    /// <param name="name">The metric name.</param>
    /// <param name="uid">Its uid.</param>
    public void Set(string name, string uid)
    {
        _entries[name] = new Entry(uid) { LastUse = ++_clock };
        if (_entries.Count > capacity)
        {
            Trim();
        }
    }

    /// <summary>Forgets a name.</summary>
    /// <param name="name">The metric name.</param>
    public void Remove(string name) => _entries.Remove(name);

    private void Trim()
    {
        var keep = Math.Max(1, capacity * 2 / 3);
        var uses = new long[_entries.Count];
        var i = 0;
        foreach (var entry in _entries.Values)
        {
            uses[i++] = entry.LastUse;
        }

        Array.Sort(uses);
        var threshold = uses[uses.Length - keep];
        var drop = new List<string>(uses.Length - keep);
        foreach (var (name, entry) in _entries)
        {
            if (entry.LastUse < threshold)
            {
                drop.Add(name);
            }
        }

        foreach (var name in drop)
        {
            _entries.Remove(name);
        }
    }

    private sealed class Entry(string uid)
    {
        public string Uid { get; } = uid;

        public long LastUse { get; set; }
    }
}
