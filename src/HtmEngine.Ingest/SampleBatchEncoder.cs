using System.Buffers;
using System.Buffers.Binary;

namespace HtmEngine.Ingest;

/// <summary>
/// A reusable <see cref="SampleBatchCodec"/> writer for one thread: the name-id → message-index map is an array
/// indexed by name id and stamped per batch, so encoding allocates nothing once the arrays have grown to the highest
/// name id seen (unlike a dictionary per batch). Output is byte-identical to <see cref="SampleBatchCodec.Encode(MetricSampleBatch, IBufferWriter{byte})"/>.
/// </summary>
public sealed class SampleBatchEncoder
{
    private const int HeaderSize = 12;
    private const int SampleSize = 20;

    private int[] _stamp = new int[1024];
    private int[] _localIndex = new int[1024];
    private int[] _order = new int[256];
    private int _generation;

    /// <summary>Writes a batch.</summary>
    /// <param name="batch">The samples.</param>
    /// <param name="output">Receives the body.</param>
    /// <exception cref="ArgumentException">A metric name is longer than 65,535 bytes.</exception>
    public void Encode(MetricSampleBatch batch, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(output);
        ReadOnlySpan<MetricSample> samples = batch.Samples;
        MetricNameTable names = batch.Names;
        int generation = NextGeneration();
        int nameCount = 0;
        int namesLength = 0;
        foreach (ref readonly MetricSample sample in samples)
        {
            int id = sample.NameId;
            if ((uint)id >= (uint)_stamp.Length)
            {
                Grow(id);
            }

            if (_stamp[id] != generation)
            {
                _stamp[id] = generation;
                _localIndex[id] = nameCount;
                if (nameCount == _order.Length)
                {
                    Array.Resize(ref _order, _order.Length * 2);
                }

                _order[nameCount++] = id;
                int length = names.GetUtf8Name(id).Length;
                if (length > ushort.MaxValue)
                {
                    throw new ArgumentException("A metric name is longer than 65535 bytes.", nameof(batch));
                }

                namesLength += 2 + length;
            }
        }

        int total = HeaderSize + namesLength + (samples.Length * SampleSize);
        Span<byte> span = output.GetSpan(total)[..total];
        "HSB1"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)nameCount);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)samples.Length);
        int at = HeaderSize;
        for (int i = 0; i < nameCount; i++)
        {
            ReadOnlySpan<byte> name = names.GetUtf8Name(_order[i]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)name.Length);
            name.CopyTo(span[(at + 2)..]);
            at += 2 + name.Length;
        }

        foreach (ref readonly MetricSample sample in samples)
        {
            Span<byte> slot = span.Slice(at, SampleSize);
            BinaryPrimitives.WriteUInt32LittleEndian(slot, (uint)_localIndex[sample.NameId]);
            BinaryPrimitives.WriteInt64LittleEndian(slot[4..], sample.TimestampSeconds);
            BinaryPrimitives.WriteDoubleLittleEndian(slot[12..], sample.Value);
            at += SampleSize;
        }

        output.Advance(total);
    }

    private int NextGeneration()
    {
        if (++_generation == int.MaxValue)
        {
            Array.Clear(_stamp);
            _generation = 1;
        }

        return _generation;
    }

    private void Grow(int id)
    {
        int size = Math.Max(_stamp.Length * 2, id + 1);
        Array.Resize(ref _stamp, size);
        Array.Resize(ref _localIndex, size);
    }
}
