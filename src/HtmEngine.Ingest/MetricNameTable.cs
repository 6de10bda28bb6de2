using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace HtmEngine.Ingest;

/// <summary>
/// Interns metric names: UTF-8 bytes → a dense id (0, 1, 2, …) and back to a <see cref="string"/>. Only the first
/// sighting of a name allocates (its key bytes and its string); later lookups are allocation-free and lock-free.
/// Safe for any number of concurrent readers and writers.
/// </summary>
/// <remarks>
/// Design: open addressing with linear probing over an array of immutable entries (key bytes, hash, id), kept at
/// most half full. Lookups read the current array without a lock; inserts take a lock, re-check, then publish the
/// entry with a volatile write (or publish a doubled array holding every entry). A reader that probes an array which
/// is being replaced can only miss, and a miss is re-checked under the lock, so no name ever gets two ids. Names are
/// never removed; <see cref="MaxNames"/> bounds the memory a sender with ever-new names can take.
/// </remarks>
public sealed class MetricNameTable
{
    /// <summary>The default bound on distinct names.</summary>
    public const int DefaultMaxNames = 1_000_000;

    private static readonly ulong s_seed = (ulong)Random.Shared.NextInt64() | 1;

    private readonly Lock _gate = new();
    private Entry?[] _slots = new Entry?[1024];
    private Entry[] _byId = new Entry[256];
    private int _count;

    /// <summary>Creates an empty table.</summary>
    /// <param name="maxNames">The most distinct names it will hold.</param>
    public MetricNameTable(int maxNames = DefaultMaxNames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNames, 1);
        MaxNames = maxNames;
    }

    /// <summary>The most distinct names the table holds; <see cref="GetOrAdd"/> returns -1 for new names beyond it.</summary>
    public int MaxNames { get; }

    /// <summary>The number of names interned so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Returns the id of <paramref name="utf8Name"/>, adding it if new.</summary>
    /// <param name="utf8Name">The name's UTF-8 bytes (the caller has validated them).</param>
    /// <returns>The id, or -1 when the name is new and the table is full.</returns>
    public int GetOrAdd(ReadOnlySpan<byte> utf8Name)
    {
        int hash = Hash(utf8Name);
        Entry? found = Find(Volatile.Read(ref _slots), utf8Name, hash);
        return found is not null ? found.Id : AddSlow(utf8Name, hash);
    }

    /// <summary>Looks a name up without adding it.</summary>
    /// <param name="utf8Name">The name's UTF-8 bytes.</param>
    /// <param name="id">The id when found.</param>
    /// <returns>True when the name is known.</returns>
    public bool TryGetId(ReadOnlySpan<byte> utf8Name, out int id)
    {
        Entry? found = Find(Volatile.Read(ref _slots), utf8Name, Hash(utf8Name));
        id = found?.Id ?? -1;
        return found is not null;
    }

    /// <summary>The name of an id returned by this table.</summary>
    /// <param name="id">The id.</param>
    /// <returns>The interned string (the same instance every time).</returns>
    public string GetName(int id) => GetEntry(id).Name;

    /// <summary>The UTF-8 bytes of an id returned by this table.</summary>
    /// <param name="id">The id.</param>
    /// <returns>The bytes (do not modify).</returns>
    public ReadOnlySpan<byte> GetUtf8Name(int id) => GetEntry(id).Key;

    private Entry GetEntry(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, Count);
        return Volatile.Read(ref _byId)[id];
    }

    private static Entry? Find(Entry?[] slots, ReadOnlySpan<byte> key, int hash)
    {
        int mask = slots.Length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask)
        {
            Entry? entry = Volatile.Read(ref slots[i]);
            if (entry is null)
            {
                return null;
            }

            if (entry.Hash == hash && key.SequenceEqual(entry.Key))
            {
                return entry;
            }
        }
    }

    private int AddSlow(ReadOnlySpan<byte> key, int hash)
    {
        lock (_gate)
        {
            Entry?[] slots = _slots;
            Entry? existing = Find(slots, key, hash);
            if (existing is not null)
            {
                return existing.Id;
            }

            int id = _count;
            if (id >= MaxNames)
            {
                return -1;
            }

            byte[] keyBytes = key.ToArray();
            var entry = new Entry(keyBytes, Encoding.UTF8.GetString(keyBytes), hash, id);

            Entry[] byId = _byId;
            if (id == byId.Length)
            {
                Array.Resize(ref byId, byId.Length * 2);
            }

            byId[id] = entry;
            Volatile.Write(ref _byId, byId);
            Volatile.Write(ref _count, id + 1);

            if ((id + 1) * 2 > slots.Length)
            {
                var grown = new Entry?[slots.Length * 2];
                for (int i = 0; i <= id; i++)
                {
                    Insert(grown, byId[i]);
                }

                Volatile.Write(ref _slots, grown);
            }
            else
            {
                Insert(slots, entry);
            }

            return id;
        }
    }

    private static void Insert(Entry?[] slots, Entry entry)
    {
        int mask = slots.Length - 1;
        int i = entry.Hash & mask;
        while (slots[i] is not null)
        {
            i = (i + 1) & mask;
        }

        Volatile.Write(ref slots[i], entry);
    }

    /// <summary>A seeded multiply-rotate hash over 8-byte words; names are short, so this beats a general hash.</summary>
    private static int Hash(ReadOnlySpan<byte> key)
    {
        ReadOnlySpan<byte> original = key;
        ulong h = s_seed ^ ((ulong)key.Length * 0x9E3779B97F4A7C15);
        while (key.Length >= 8)
        {
            h = BitOperations.RotateLeft((h ^ MemoryMarshal.Read<ulong>(key)) * 0xBF58476D1CE4E5B9, 31);
            key = key[8..];
        }

        ulong tail = 0;
        if (key.Length > 0)
        {
            if (original.Length >= 8)
            {
                // Re-read the last 8 bytes (overlapping the previous word) instead of looping over the tail.
                tail = MemoryMarshal.Read<ulong>(original[^8..]);
            }
            else
            {
                for (int i = 0; i < key.Length; i++)
                {
                    tail |= (ulong)key[i] << (8 * i);
                }
            }
        }

        h = (h ^ tail) * 0x94D049BB133111EB;
        h ^= h >> 29;
        return (int)h & int.MaxValue;
    }

    private sealed class Entry(byte[] key, string name, int hash, int id)
    {
        public byte[] Key { get; } = key;

        public string Name { get; } = name;

        public int Hash { get; } = hash;

        public int Id { get; } = id;
    }
}
