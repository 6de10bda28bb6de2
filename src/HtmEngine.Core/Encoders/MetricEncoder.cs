using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Sdr;

namespace HtmEngine.Core.Encoders;

/// <summary>
/// The NAB model's input encoder (htm-algorithm.md §1.4): time of day in bits [0, 54), then the value's RDSE bits in
/// [54, 454), packed into <see cref="WordCount"/> words for the spatial pooler.
/// </summary>
public sealed class MetricEncoder
{
    private const int FormatTag = 0x434E454D; // "MENC"
    private const int FormatVersion = 1;

    private readonly int[] _scratch;

    /// <summary>Creates the encoder pair with NuPIC's NAB parameters and the given value resolution.</summary>
    /// <param name="resolution">RDSE resolution (the caller derives it from the metric's min and max).</param>
    /// <param name="valueActiveBits">RDSE w.</param>
    /// <param name="valueWidth">RDSE n.</param>
    /// <param name="seed">RDSE seed.</param>
    public MetricEncoder(double resolution, int valueActiveBits = 21, int valueWidth = 400, ulong seed = 42)
        : this(new TimeOfDayEncoder(), new RandomDistributedScalarEncoder(resolution, valueActiveBits, valueWidth, seed))
    {
    }

    private MetricEncoder(TimeOfDayEncoder timeOfDay, RandomDistributedScalarEncoder value)
    {
        TimeOfDay = timeOfDay;
        Value = value;
        InputWidth = timeOfDay.Width + value.Width;
        WordCount = BitKernels.WordCount(InputWidth);
        _scratch = new int[Math.Max(timeOfDay.ActiveBits, value.ActiveBits)];
    }

    /// <summary>The time-of-day encoder (first in the input).</summary>
    public TimeOfDayEncoder TimeOfDay { get; }

    /// <summary>The value encoder (after the time of day).</summary>
    public RandomDistributedScalarEncoder Value { get; }

    /// <summary>Total input bits (454 with the defaults).</summary>
    public int InputWidth { get; }

    /// <summary>Words of the packed input (8 with the defaults).</summary>
    public int WordCount { get; }

    /// <summary>Bits set by the last <see cref="Encode"/> (42 with the defaults, 21 for a NaN value).</summary>
    public int ActiveBitCount { get; private set; }

    /// <summary>Clears the first <see cref="WordCount"/> words of <paramref name="inputBits"/> and sets the record's bits.</summary>
    public void Encode(DateTime timestamp, double value, Span<ulong> inputBits)
    {
        Span<ulong> target = inputBits[..WordCount];
        target.Clear();
        Span<int> bits = _scratch;
        int count = TimeOfDay.Encode(timestamp, bits);
        BitKernels.SetBits(target, bits[..count]);
        int valueCount = Value.Encode(value, bits);
        int offset = TimeOfDay.Width;
        for (int i = 0; i < valueCount; i++)
        {
            BitKernels.SetBit(target, offset + bits[i]);
        }

        ActiveBitCount = count + valueCount;
    }

    /// <summary>Writes the encoder state (the time-of-day part is stateless; its parameters are written).</summary>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(FormatTag);
        writer.WriteInt32(FormatVersion);
        writer.WriteInt32(TimeOfDay.ActiveBits);
        writer.WriteDouble(TimeOfDay.Radius);
        Value.Save(writer);
    }

    /// <summary>Reads an encoder written by <see cref="Save"/>.</summary>
    public static MetricEncoder Load(ref CheckpointReader reader)
    {
        if (reader.ReadInt32() != FormatTag || reader.ReadInt32() != FormatVersion)
        {
            throw new CheckpointFormatException("Expected a version-1 metric encoder record.");
        }

        int w = reader.ReadInt32();
        double radius = reader.ReadDouble();
        TimeOfDayEncoder timeOfDay;
        try
        {
            timeOfDay = new TimeOfDayEncoder(w, radius);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CheckpointFormatException("Time-of-day parameters in the checkpoint are invalid: " + e.Message);
        }

        return new MetricEncoder(timeOfDay, RandomDistributedScalarEncoder.Load(ref reader));
    }
}
