using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace HtmEngine.Ingest;

/// <summary>
/// The compact binary body the listener publishes on the metric data queue, marked with <see cref="ContentType"/>.
/// </summary>
/// <remarks>
/// Layout, all integers little-endian:
/// <code>
/// "HSB1"                         4-byte magic (format version 1)
/// u32 nameCount, u32 sampleCount
/// nameCount × { u16 byteLength, UTF-8 bytes }          each distinct name once, in first-use order
/// sampleCount × { u32 nameIndex, i64 timestampSeconds, f64 value }   20 bytes per sample, arrival order
/// </code>
/// A 48-byte text line becomes 20 bytes plus its name once per message.
/// </remarks>
public static class SampleBatchCodec
{
    /// <summary>The content type of this format.</summary>
    public const string ContentType = "application/vnd.htmengine.samples.v1";

    private const int SampleSize = 20;
    private const int HeaderSize = 12;
    private static ReadOnlySpan<byte> Magic => "HSB1"u8;

    /// <summary>Writes a batch.</summary>
    /// <param name="batch">The samples.</param>
    /// <param name="output">Receives the body.</param>
    public static void Encode(MetricSampleBatch batch, IBufferWriter<byte> output) => new SampleBatchEncoder().Encode(batch, output);

    /// <summary>Encodes a batch into a new array.</summary>
    /// <param name="batch">The samples.</param>
    /// <returns>The body.</returns>
    public static byte[] Encode(MetricSampleBatch batch)
    {
        var output = new ArrayBufferWriter<byte>();
        Encode(batch, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Reads a body written by <see cref="Encode(MetricSampleBatch, IBufferWriter{byte})"/>.</summary>
    /// <param name="body">The body.</param>
    /// <returns>The samples in order, names resolved.</returns>
    /// <exception cref="MetricMessageFormatException">Wrong magic, truncated, an invalid name, a name index out of
    /// range, a non-finite value, or trailing bytes.</exception>
    public static IReadOnlyList<ReceivedSample> Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length < HeaderSize || !body[..4].SequenceEqual(Magic))
        {
            throw new MetricMessageFormatException("Binary sample batch: missing the \"HSB1\" header.");
        }

        uint nameCount = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        uint sampleCount = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
        if (nameCount > (uint)(body.Length / 2) || sampleCount > (uint)(body.Length / SampleSize))
        {
            throw new MetricMessageFormatException($"Binary sample batch: counts ({nameCount} names, {sampleCount} samples) exceed the body length {body.Length}.");
        }

        var names = new string[nameCount];
        int at = HeaderSize;
        for (int i = 0; i < names.Length; i++)
        {
            if (body.Length - at < 2)
            {
                throw new MetricMessageFormatException($"Binary sample batch: truncated in name {i}.");
            }

            int length = BinaryPrimitives.ReadUInt16LittleEndian(body[at..]);
            at += 2;
            if (body.Length - at < length)
            {
                throw new MetricMessageFormatException($"Binary sample batch: truncated in name {i}.");
            }

            ReadOnlySpan<byte> name = body.Slice(at, length);
            if (length == 0 || !Utf8.IsValid(name))
            {
                throw new MetricMessageFormatException($"Binary sample batch: name {i} is empty or not UTF-8.");
            }

            names[i] = Encoding.UTF8.GetString(name);
            at += length;
        }

        if (body.Length - at != (long)sampleCount * SampleSize)
        {
            throw new MetricMessageFormatException($"Binary sample batch: expected {sampleCount} samples ({sampleCount * (long)SampleSize} bytes) after the names, found {body.Length - at} bytes.");
        }

        var samples = new ReceivedSample[sampleCount];
        for (int i = 0; i < samples.Length; i++)
        {
            uint index = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
            long timestamp = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 4)..]);
            double value = BinaryPrimitives.ReadDoubleLittleEndian(body[(at + 12)..]);
            if (index >= nameCount)
            {
                throw new MetricMessageFormatException($"Binary sample batch: sample {i} refers to name {index} of {nameCount}.");
            }

            if (!double.IsFinite(value))
            {
                throw new MetricMessageFormatException($"Binary sample batch: sample {i} has a non-finite value.");
            }

            samples[i] = new ReceivedSample(names[index], value, timestamp);
            at += SampleSize;
        }

        return samples;
    }
}
