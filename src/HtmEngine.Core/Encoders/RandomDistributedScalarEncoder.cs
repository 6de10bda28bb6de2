using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Core.Encoders;

/// <summary>
/// NuPIC's random distributed scalar encoder (htm-algorithm.md §2.1): values are mapped to one of 1000 buckets
/// anchored at the first value seen (bucket 500), each bucket is a set of <see cref="ActiveBits"/> bits out of
/// <see cref="Width"/>, and buckets are created lazily, one step outward at a time, so that neighbouring buckets
/// share w − 1 bits and buckets at least w apart share at most 2. The generator calls are NuPIC's, in NuPIC's order,
/// so the same stream of values yields the same bits.
/// </summary>
/// <remarks>Not thread-safe. Encoding a value whose bucket already exists does not allocate.</remarks>
public sealed class RandomDistributedScalarEncoder
{
    /// <summary>Number of internal buckets (NuPIC's <c>INITIAL_BUCKETS</c>).</summary>
    public const int MaxBuckets = 1000;

    /// <summary>Largest overlap allowed between buckets at least w apart.</summary>
    public const int MaxOverlap = 2;

    private const int FormatTag = 0x45534452; // "RDSE"
    private const int FormatVersion = 1;
    private const int MiddleBucket = MaxBuckets / 2;
    private const int MaxTriesPerBucket = 1_000_000;

    private readonly int _w;
    private readonly int _n;
    private readonly NupicRandom _random;
    private readonly int[] _buckets; // MaxBuckets × w; buckets [_minIndex, _maxIndex] exist
    private readonly int[] _candidate;
    private readonly ulong[] _candidateBits;
    private int _minIndex;
    private int _maxIndex;
    private bool _hasOffset;
    private double _offset;

    /// <summary>Creates an encoder; bucket 500 is drawn immediately (a shuffle of 0..n−1), as NuPIC does.</summary>
    /// <param name="resolution">Value width of one bucket; must be positive and finite.</param>
    /// <param name="w">Active bits per value; odd and positive.</param>
    /// <param name="n">Output width; strictly greater than 6·w.</param>
    /// <param name="seed">Generator seed (NuPIC's default is 42); non-zero.</param>
    public RandomDistributedScalarEncoder(double resolution, int w = 21, int n = 400, ulong seed = 42)
        : this(resolution, w, n, new NupicRandom(seed))
    {
        Span<int> permutation = n <= 1024 ? stackalloc int[n] : new int[n];
        for (int i = 0; i < n; i++)
        {
            permutation[i] = i;
        }

        _random.Shuffle(permutation);
        permutation[..w].CopyTo(_buckets.AsSpan(MiddleBucket * w, w));
        _minIndex = MiddleBucket;
        _maxIndex = MiddleBucket;
    }

    private RandomDistributedScalarEncoder(double resolution, int w, int n, NupicRandom random)
    {
        if (!(resolution > 0) || double.IsInfinity(resolution))
        {
            throw new ArgumentOutOfRangeException(nameof(resolution), resolution, "The resolution must be positive and finite.");
        }

        if (w <= 0 || (w & 1) == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(w), w, "w must be an odd positive number of bits.");
        }

        if (n <= 6 * w)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "n must be strictly greater than 6·w.");
        }

        Resolution = resolution;
        _w = w;
        _n = n;
        _random = random;
        _buckets = new int[MaxBuckets * w];
        _candidate = new int[w];
        _candidateBits = new ulong[(n + 63) >> 6];
    }

    /// <summary>Width of the output in bits (n).</summary>
    public int Width => _n;

    /// <summary>Active bits per encoded value (w).</summary>
    public int ActiveBits => _w;

    /// <summary>Value width of one bucket.</summary>
    public double Resolution { get; }

    /// <summary>The value that anchors bucket 500 (the first non-NaN value encoded), or null before it.</summary>
    public double? Offset => _hasOffset ? _offset : null;

    /// <summary>Lowest bucket created so far.</summary>
    public int MinBucket => _minIndex;

    /// <summary>Highest bucket created so far.</summary>
    public int MaxBucket => _maxIndex;

    /// <summary>
    /// Writes the bit indices of <paramref name="value"/> to <paramref name="activeBits"/> (not sorted) and returns
    /// their number: <see cref="ActiveBits"/>, or 0 for NaN (NuPIC's missing value).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is infinite.</exception>
    public int Encode(double value, Span<int> activeBits)
    {
        int bucket = GetBucketIndex(value);
        if (bucket < 0)
        {
            return 0;
        }

        EnsureBucket(bucket);
        _buckets.AsSpan(bucket * _w, _w).CopyTo(activeBits);
        return _w;
    }

    /// <summary>
    /// The bucket of <paramref name="value"/>: 500 + round-half-away-from-zero((value − offset) / resolution), clipped
    /// to [0, 999]; −1 for NaN. The first non-NaN value becomes the offset.
    /// </summary>
    public int GetBucketIndex(double value)
    {
        if (double.IsNaN(value))
        {
            return -1;
        }

        if (double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "The encoder takes finite values (or NaN for a missing value).");
        }

        if (!_hasOffset)
        {
            _offset = value;
            _hasOffset = true;
        }

        // Python 2's round() rounds halves away from zero.
        double steps = Math.Round((value - _offset) / Resolution, MidpointRounding.AwayFromZero);
        if (steps <= -MiddleBucket)
        {
            return 0;
        }

        return steps >= MaxBuckets - 1 - MiddleBucket ? MaxBuckets - 1 : MiddleBucket + (int)steps;
    }

    /// <summary>The bits of an existing bucket (tests and diagnostics).</summary>
    internal ReadOnlySpan<int> GetBucket(int bucket)
    {
        if (bucket < _minIndex || bucket > _maxIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(bucket), bucket, "That bucket has not been created.");
        }

        return _buckets.AsSpan(bucket * _w, _w);
    }

    /// <summary>Creates <paramref name="bucket"/> and every bucket between it and the existing range, nearest first.</summary>
    internal void EnsureBucket(int bucket)
    {
        while (bucket < _minIndex)
        {
            CreateBucket(_minIndex - 1, _minIndex);
            _minIndex--;
        }

        while (bucket > _maxIndex)
        {
            CreateBucket(_maxIndex + 1, _maxIndex);
            _maxIndex++;
        }
    }

    private void CreateBucket(int newIndex, int neighbour)
    {
        ReadOnlySpan<int> neighbourBits = _buckets.AsSpan(neighbour * _w, _w);
        Span<int> candidate = _candidate;
        neighbourBits.CopyTo(candidate);
        int slot = newIndex % _w;
        for (int tries = 0; tries < MaxTriesPerBucket; tries++)
        {
            int bit = (int)_random.GetUInt32((uint)_n);
            candidate[slot] = bit;
            if (neighbourBits.Contains(bit) || !CandidateIsAcceptable(newIndex))
            {
                continue;
            }

            candidate.CopyTo(_buckets.AsSpan(newIndex * _w, _w));
            return;
        }

        throw new InvalidOperationException($"No representation satisfies the overlap rule for bucket {newIndex} (w = {_w}, n = {_n}).");
    }

    /// <summary>
    /// NuPIC's check of a candidate against every existing bucket, walking upward with a running overlap: bucket i
    /// differs from bucket i − 1 only in slot (i − 1) mod w at or below the middle and slot i mod w above it.
    /// </summary>
    private bool CandidateIsAcceptable(int newIndex)
    {
        ulong[] bits = _candidateBits;
        Array.Clear(bits);
        ReadOnlySpan<int> candidate = _candidate;
        for (int k = 0; k < candidate.Length; k++)
        {
            bits[candidate[k] >> 6] |= 1UL << (candidate[k] & 63);
        }

        int w = _w;
        int[] buckets = _buckets;
        int overlap = 0;
        int first = _minIndex * w;
        for (int k = 0; k < w; k++)
        {
            overlap += IsSet(bits, buckets[first + k]);
        }

        if (!OverlapOk(_minIndex, newIndex, overlap))
        {
            return false;
        }

        for (int i = _minIndex + 1; i <= _maxIndex; i++)
        {
            int slot = (i <= MiddleBucket ? i - 1 : i) % w;
            overlap -= IsSet(bits, buckets[((i - 1) * w) + slot]);
            overlap += IsSet(bits, buckets[(i * w) + slot]);
            if (!OverlapOk(i, newIndex, overlap))
            {
                return false;
            }
        }

        return true;
    }

    private static int IsSet(ulong[] bits, int index) => (int)((bits[index >> 6] >> (index & 63)) & 1);

    private bool OverlapOk(int i, int j, int overlap)
    {
        int distance = Math.Abs(i - j);
        return distance < _w ? overlap == _w - distance : overlap <= MaxOverlap;
    }

    /// <summary>Writes the encoder's complete state (parameters, offset, buckets, generator).</summary>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(FormatTag);
        writer.WriteInt32(FormatVersion);
        writer.WriteDouble(Resolution);
        writer.WriteInt32(_w);
        writer.WriteInt32(_n);
        writer.WriteBoolean(_hasOffset);
        writer.WriteDouble(_offset);
        writer.WriteInt32(_minIndex);
        writer.WriteInt32(_maxIndex);
        writer.WriteSpan<int>(_buckets.AsSpan(_minIndex * _w, (_maxIndex - _minIndex + 1) * _w));
        _random.Save(writer);
    }

    /// <summary>Reads an encoder written by <see cref="Save"/>.</summary>
    public static RandomDistributedScalarEncoder Load(ref CheckpointReader reader)
    {
        if (reader.ReadInt32() != FormatTag || reader.ReadInt32() != FormatVersion)
        {
            throw new CheckpointFormatException("Expected a version-1 RDSE record.");
        }

        double resolution = reader.ReadDouble();
        int w = reader.ReadInt32();
        int n = reader.ReadInt32();
        bool hasOffset = reader.ReadBoolean();
        double offset = reader.ReadDouble();
        int minIndex = reader.ReadInt32();
        int maxIndex = reader.ReadInt32();
        if (w <= 0 || (w & 1) == 0 || n <= 6 * w || n > 1 << 20 || minIndex < 0 || minIndex > MiddleBucket
            || maxIndex < MiddleBucket || maxIndex >= MaxBuckets || !(resolution > 0))
        {
            throw new CheckpointFormatException("RDSE parameters in the checkpoint are invalid.");
        }

        int[] bits = reader.ReadArray<int>();
        if (bits.Length != (maxIndex - minIndex + 1) * w)
        {
            throw new CheckpointFormatException("RDSE bucket table has the wrong size.");
        }

        foreach (int bit in bits)
        {
            if ((uint)bit >= (uint)n)
            {
                throw new CheckpointFormatException("RDSE bucket bit out of range.");
            }
        }

        NupicRandom random = NupicRandom.Load(ref reader);
        var encoder = new RandomDistributedScalarEncoder(resolution, w, n, random)
        {
            _hasOffset = hasOffset,
            _offset = offset,
            _minIndex = minIndex,
            _maxIndex = maxIndex,
        };
        bits.CopyTo(encoder._buckets.AsSpan(minIndex * w));
        return encoder;
    }
}
