using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Encoders;
using HtmEngine.Core.SpatialPooling;
using HtmEngine.Core.TemporalMemory;

namespace HtmEngine.Core.Models;

/// <summary>
/// One metric's HTM model: time-of-day and value encoders → spatial pooler → temporal memory → raw anomaly score.
/// <see cref="Step"/> takes one sample and returns its raw score; it allocates nothing after the first steps
/// (the value encoder grows its bucket table as new values arrive, a bounded amount).
/// </summary>
/// <remarks>
/// Deterministic: the same parameters and samples give the same scores and the same checkpoint bytes, whatever
/// the instruction set, the thread or a save/load in between. Not thread-safe; a model belongs to one runner.
/// </remarks>
public sealed class HtmModel
{
    /// <summary>Checkpoint kind of a model.</summary>
    public const ushort CheckpointKind = 1;

    /// <summary>Current checkpoint format version of a model.</summary>
    public const ushort CheckpointVersion = 1;

    private readonly MetricEncoder _encoder;
    private readonly SpatialPooler _spatialPooler;
    private readonly ISequenceMemory _sequenceMemory;
    private readonly ulong[] _inputBits;
    private readonly int[] _activeColumns;

    /// <summary>Builds a fresh model.</summary>
    public HtmModel(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters;
        _encoder = new MetricEncoder(parameters.Resolution, seed: parameters.EncoderSeed);
        _spatialPooler = new SpatialPooler(parameters.SpatialPooler with { InputWidth = _encoder.InputWidth });
        _sequenceMemory = parameters.TemporalMemory switch
        {
            TemporalMemoryKind.Backtracking => new BacktrackingTm(parameters.Backtracking with { ColumnCount = parameters.SpatialPooler.ColumnCount }),
            _ => new TemporalMemory.TemporalMemory(parameters.Tm with { ColumnCount = parameters.SpatialPooler.ColumnCount }),
        };
        _inputBits = new ulong[(_encoder.InputWidth + 63) / 64];
        _activeColumns = new int[parameters.SpatialPooler.ColumnCount];
    }

    private HtmModel(ModelParameters parameters, long steps, MetricEncoder encoder, SpatialPooler spatialPooler, ISequenceMemory sequenceMemory)
    {
        Parameters = parameters;
        Steps = steps;
        _encoder = encoder;
        _spatialPooler = spatialPooler;
        _sequenceMemory = sequenceMemory;
        _inputBits = new ulong[(_encoder.InputWidth + 63) / 64];
        _activeColumns = new int[parameters.SpatialPooler.ColumnCount];
    }

    /// <summary>The parameters the model was built with.</summary>
    public ModelParameters Parameters { get; }

    /// <summary>Number of samples the model has seen.</summary>
    public long Steps { get; private set; }

    /// <summary>Whether the spatial pooler and temporal memory learn (true, as NuPIC's anomaly models do).</summary>
    public bool Learn { get; set; } = true;

    /// <summary>The spatial pooler, for diagnostics and memory estimates (<see cref="SpatialPooler.OwnedRowCount"/>).</summary>
    public SpatialPooler SpatialPooler => _spatialPooler;

    /// <summary>The temporal memory, for diagnostics.</summary>
    public ISequenceMemory SequenceMemory => _sequenceMemory;

    /// <summary>
    /// Feeds one sample and returns its raw anomaly score in [0, 1]: the fraction of this step's active columns that
    /// the previous step did not predict.
    /// </summary>
    /// <param name="timestamp">The sample's time (its hour and minute are encoded; the kind is ignored).</param>
    /// <param name="value">The sample's value; must be finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is NaN or infinite.</exception>
    public double Step(DateTime timestamp, double value)
    {
        if (!double.IsFinite(value))
        {
            ThrowNotFinite(value);
        }

        _encoder.Encode(timestamp, value, _inputBits);
        int activeCount = _spatialPooler.Compute(_inputBits, Learn, _activeColumns);
        ReadOnlySpan<int> active = _activeColumns.AsSpan(0, activeCount);
        int predicted = _sequenceMemory.CountPredicted(active);
        _sequenceMemory.Compute(active, Learn);
        Steps++;

        // NuPIC hands the score out through the TM region's float32 output, so NAB's likelihood sees the float32
        // value (0.9 arrives as 0.899999976158...). Rounding the same way keeps the likelihood bit-compatible.
        return (float)RawAnomaly.Compute(activeCount, predicted);
    }

    /// <summary>Serialises the whole model into a framed, checksummed checkpoint.</summary>
    public byte[] Save()
    {
        var writer = new CheckpointWriter(CheckpointKind, CheckpointVersion, initialCapacity: 1 << 20);
        writer.WriteString(Parameters.SetName);
        writer.WriteDouble(Parameters.MinValue);
        writer.WriteDouble(Parameters.MaxValue);
        writer.WriteUInt64(Parameters.EncoderSeed);
        writer.WriteInt64(Steps);
        writer.WriteBoolean(Learn);
        _encoder.Save(writer);
        _spatialPooler.Save(writer);
        writer.WriteByte((byte)Parameters.TemporalMemory);
        _sequenceMemory.Save(writer);
        return writer.Complete();
    }

    /// <summary>Restores a model saved by <see cref="Save"/>; it continues exactly where the saved one stopped.</summary>
    /// <exception cref="CheckpointFormatException">The bytes are not an intact model checkpoint of this version.</exception>
    public static HtmModel Load(ReadOnlySpan<byte> checkpoint)
    {
        var reader = new CheckpointReader(checkpoint, CheckpointKind, CheckpointVersion);
        string setName = reader.ReadString();
        double minValue = reader.ReadDouble();
        double maxValue = reader.ReadDouble();
        ulong encoderSeed = reader.ReadUInt64();
        long steps = reader.ReadInt64();
        bool learn = reader.ReadBoolean();
        MetricEncoder encoder = MetricEncoder.Load(ref reader);
        SpatialPooler spatialPooler = SpatialPooler.Load(ref reader);
        var kind = (TemporalMemoryKind)reader.ReadByte();
        ISequenceMemory sequenceMemory = kind switch
        {
            TemporalMemoryKind.Backtracking => BacktrackingTm.Load(ref reader),
            TemporalMemoryKind.TemporalMemory => TemporalMemory.TemporalMemory.Load(ref reader),
            _ => throw new CheckpointFormatException($"Unknown temporal memory kind {(int)kind}."),
        };
        if (!reader.AtEnd)
        {
            throw new CheckpointFormatException("Checkpoint has unread bytes after the model.");
        }

        // The components carry their own parameters; the model's are rebuilt from them.
        var parameters = new ModelParameters
        {
            SetName = setName,
            MinValue = minValue,
            MaxValue = maxValue,
            Resolution = encoder.Value.Resolution,
            EncoderSeed = encoderSeed,
            SpatialPooler = spatialPooler.Parameters,
            TemporalMemory = kind,
            Backtracking = sequenceMemory is BacktrackingTm backtracking ? backtracking.Parameters : new BacktrackingTmParameters(),
            Tm = sequenceMemory is TemporalMemory.TemporalMemory tm ? tm.Parameters : new TemporalMemoryParameters(),
        };
        return new HtmModel(parameters, steps, encoder, spatialPooler, sequenceMemory) { Learn = learn };
    }

    private static void ThrowNotFinite(double value) =>
        throw new ArgumentOutOfRangeException(nameof(value), value, "A model takes finite numbers only; NaN and infinities are rejected.");
}
