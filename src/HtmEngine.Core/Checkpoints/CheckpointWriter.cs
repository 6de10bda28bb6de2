using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace HtmEngine.Core.Checkpoints;

/// <summary>
/// Appends little-endian primitives and unmanaged spans to an in-memory buffer: the one way every model
/// component serialises itself. <see cref="Complete"/> frames the payload with a magic, a format version and
/// a CRC-32C so that a truncated or corrupted checkpoint is refused instead of loading a wrong model.
/// </summary>
/// <remarks>Layout: "HTMC" | u16 version | u16 kind | i64 payload length | payload | u32 CRC-32C of all before it.</remarks>
public sealed class CheckpointWriter
{
    /// <summary>Bytes that open every checkpoint.</summary>
    public const uint Magic = 0x434D5448; // "HTMC" read as little-endian
    private const int HeaderSize = 4 + 2 + 2 + 8;

    private readonly ArrayBufferWriter<byte> _buffer;

    /// <summary>Starts a checkpoint of the given kind and format version.</summary>
    public CheckpointWriter(ushort kind, ushort version, int initialCapacity = 1 << 16)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Checkpoints are written in little-endian order; this platform is big-endian.");
        }

        _buffer = new ArrayBufferWriter<byte>(Math.Max(initialCapacity, HeaderSize));
        Span<byte> header = _buffer.GetSpan(HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], version);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], kind);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], 0); // patched by Complete
        _buffer.Advance(HeaderSize);
    }

    /// <summary>Bytes written so far, header included.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>Writes a boolean as one byte.</summary>
    public void WriteBoolean(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>Writes one byte.</summary>
    public void WriteByte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    /// <summary>Writes a 32-bit signed integer.</summary>
    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    /// <summary>Writes a 32-bit unsigned integer.</summary>
    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    /// <summary>Writes a 64-bit signed integer.</summary>
    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>Writes a 64-bit unsigned integer.</summary>
    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>Writes a float32 bit for bit.</summary>
    public void WriteSingle(float value) => WriteUInt32(BitConverter.SingleToUInt32Bits(value));

    /// <summary>Writes a float64 bit for bit.</summary>
    public void WriteDouble(double value) => WriteUInt64(BitConverter.DoubleToUInt64Bits(value));

    /// <summary>Writes a span of unmanaged values preceded by its element count.</summary>
    public void WriteSpan<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        WriteInt32(values.Length);
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(values);
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
    }

    /// <summary>
    /// Writes unmanaged values with no count: one part of a span written in parts, after a <see cref="WriteInt32"/> of
    /// the whole span's element count (the bytes are those of <see cref="WriteSpan{T}(ReadOnlySpan{T})"/> then).
    /// </summary>
    public void WriteElements<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(values);
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
    }

    /// <summary>Writes a span of unmanaged values preceded by its element count.</summary>
    public void WriteSpan<T>(Span<T> values)
        where T : unmanaged => WriteSpan((ReadOnlySpan<T>)values);

    /// <summary>Writes a span of unmanaged values preceded by its element count.</summary>
    public void WriteSpan<T>(T[] values)
        where T : unmanaged => WriteSpan((ReadOnlySpan<T>)values);

    /// <summary>Writes a string as UTF-8 bytes preceded by their count.</summary>
    public void WriteString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int byteCount = System.Text.Encoding.UTF8.GetByteCount(value);
        WriteInt32(byteCount);
        System.Text.Encoding.UTF8.GetBytes(value, _buffer.GetSpan(byteCount));
        _buffer.Advance(byteCount);
    }

    /// <summary>Closes the frame (length and checksum) and returns the finished bytes. The writer is spent.</summary>
    public byte[] Complete()
    {
        long payloadLength = _buffer.WrittenCount - HeaderSize;
        byte[] result = new byte[_buffer.WrittenCount + 4];
        _buffer.WrittenSpan.CopyTo(result);
        BinaryPrimitives.WriteInt64LittleEndian(result.AsSpan(8), payloadLength);
        uint crc = Crc32C.Compute(result.AsSpan(0, result.Length - 4));
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(result.Length - 4), crc);
        return result;
    }
}
