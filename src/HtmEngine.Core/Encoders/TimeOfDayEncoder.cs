namespace HtmEngine.Core.Encoders;

/// <summary>
/// NuPIC's time-of-day encoder (the <c>timeOfDay</c> part of its DateEncoder, htm-algorithm.md §2.3): a periodic
/// scalar encoder over [0, 24) hours with w active bits and radius 9.49 h, so n = ceil(w · 24 / radius) = 54 with
/// the defaults. The hour is <c>hour + minute / 60</c> of the naive timestamp; seconds and <see cref="DateTimeKind"/>
/// are ignored. Stateless and allocation-free.
/// </summary>
public sealed class TimeOfDayEncoder
{
    /// <summary>NuPIC's default active bits for time of day in the NAB model.</summary>
    public const int DefaultActiveBits = 21;

    /// <summary>NuPIC's default radius in hours for time of day in the NAB model.</summary>
    public const double DefaultRadius = 9.49;

    private const double HoursPerDay = 24.0;

    private readonly int _halfWidth;

    /// <summary>Creates the encoder.</summary>
    /// <param name="w">Active bits; odd and positive.</param>
    /// <param name="radius">Hours covered by w bits; positive.</param>
    public TimeOfDayEncoder(int w = DefaultActiveBits, double radius = DefaultRadius)
    {
        if (w <= 0 || (w & 1) == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(w), w, "w must be an odd positive number of bits.");
        }

        if (!(radius > 0) || double.IsInfinity(radius))
        {
            throw new ArgumentOutOfRangeException(nameof(radius), radius, "The radius must be positive and finite.");
        }

        ActiveBits = w;
        Radius = radius;
        _halfWidth = (w - 1) / 2;
        Width = (int)Math.Ceiling(w * (HoursPerDay / radius));
        if (Width < w)
        {
            throw new ArgumentOutOfRangeException(nameof(radius), radius, "The radius is too large: fewer output bits than active bits.");
        }
    }

    /// <summary>Output width in bits (54 with the defaults).</summary>
    public int Width { get; }

    /// <summary>Active bits per timestamp (w).</summary>
    public int ActiveBits { get; }

    /// <summary>Hours covered by w bits.</summary>
    public double Radius { get; }

    /// <summary>
    /// Writes the <see cref="ActiveBits"/> bit indices of <paramref name="timestamp"/>'s time of day (not sorted; they
    /// wrap around the end of the day) and returns their number.
    /// </summary>
    public int Encode(DateTime timestamp, Span<int> activeBits)
    {
        int first = GetFirstBit(timestamp);
        int n = Width;
        Span<int> target = activeBits[..ActiveBits];
        for (int k = 0; k < target.Length; k++)
        {
            int bit = first + k;
            target[k] = bit < 0 ? bit + n : bit >= n ? bit - n : bit;
        }

        return target.Length;
    }

    /// <summary>First active bit before wrapping: floor(t · n / 24) − (w − 1)/2, possibly negative.</summary>
    internal int GetFirstBit(DateTime timestamp)
    {
        double hours = timestamp.Hour + (timestamp.Minute / 60.0);
        int centre = (int)(hours * Width / HoursPerDay);
        return centre - _halfWidth;
    }
}
