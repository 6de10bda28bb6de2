using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace HtmEngine.Core.Checkpoints;

/// <summary>
/// Reads what <see cref="CheckpointWriter"/> wrote. The constructor checks the frame (magic, kind, version,
/// length and CRC-32C) before any field is read, so component loaders see only intact bytes.
/// </summary>
public ref struct CheckpointReader
{
    private readonly ReadOnlySpan<byte> _payload;
    private int _position;

    /// <summary>Validates the frame of <paramref name="checkpoint"/> and positions the reader on its payload.</summary>
    /// <exception cref="CheckpointFormatException">The bytes are not an intact checkpoint of that kind and version.</exception>
    public CheckpointReader(ReadOnlySpan<byte> checkpoint, ushort expectedKind, ushort expectedVersion)
    {
        const int headerSize = 16;
        if (checkpoint.Length < headerSize + 4)
        {
            throw new CheckpointFormatException($"Checkpoint is truncated: {checkpoint.Length} bytes.");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(checkpoint) != CheckpointWriter.Magic)
        {
            throw new CheckpointFormatException("Not a checkpoint: the magic bytes are wrong.");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(checkpoint[4..]);
        ushort kind = BinaryPrimitives.ReadUInt16LittleEndian(checkpoint[6..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(checkpoint[8..]);
        if (kind != expectedKind)
        {
            throw new CheckpointFormatException($"Checkpoint holds kind {kind}, expected {expectedKind}.");
        }

        if (version != expectedVersion)
        {
            throw new CheckpointFormatException($"Checkpoint format version {version} is not supported (this build reads {expectedVersion}).");
        }

        if (length != checkpoint.Length - headerSize - 4)
        {
            throw new CheckpointFormatException($"Checkpoint is truncated or padded: header says {length} payload bytes, found {checkpoint.Length - headerSize - 4}.");
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(checkpoint[^4..]);
        uint actual = Crc32C.Compute(checkpoint[..^4]);
        if (stored != actual)
        {
            throw new CheckpointFormatException($"Checkpoint checksum mismatch (stored {stored:x8}, computed {actual:x8}).");
        }

        Version = version;
        _payload = checkpoint.Slice(headerSize, (int)length);
        _position = 0;
    }

    /// <summary>The format version of the checkpoint being read.</summary>
    public ushort Version { get; }

    /// <summary>True when every payload byte has been read.</summary>
    public readonly bool AtEnd => _position == _payload.Length;

    /// <summary>Reads a boolean written as one byte.</summary>
    public bool ReadBoolean() => ReadByte() switch
    {
        0 => false,
        1 => true,
        var other => throw new CheckpointFormatException($"Invalid boolean byte {other} at payload offset {_position - 1}."),
    };

    /// <summary>Reads one byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>Reads a 32-bit signed integer.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    /// <summary>Reads a 32-bit unsigned integer.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    /// <summary>Reads a 64-bit signed integer.</summary>
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    /// <summary>Reads a 64-bit unsigned integer.</summary>
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>Reads a float32 bit for bit.</summary>
    public float ReadSingle() => BitConverter.UInt32BitsToSingle(ReadUInt32());

    /// <summary>Reads a float64 bit for bit.</summary>
    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadUInt64());

    /// <summary>Reads a string written by <see cref="CheckpointWriter.WriteString"/>.</summary>
    public string ReadString()
    {
        int byteCount = ReadInt32();
        try
        {
            return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(byteCount));
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new CheckpointFormatException("Checkpoint string is not valid UTF-8.", e);
        }
    }

    /// <summary>Reads the element count of the next span without consuming it.</summary>
    public readonly int PeekSpanLength()
    {
        if (_payload.Length - _position < 4)
        {
            throw new CheckpointFormatException("Checkpoint payload ends inside a length prefix.");
        }

        return BinaryPrimitives.ReadInt32LittleEndian(_payload[_position..]);
    }

    /// <summary>Reads a span written by <see cref="CheckpointWriter.WriteSpan{T}(ReadOnlySpan{T})"/> into a destination of exactly its length.</summary>
    public void ReadSpan<T>(scoped Span<T> destination)
        where T : unmanaged
    {
        int count = ReadInt32();
        if (count != destination.Length)
        {
            throw new CheckpointFormatException($"Checkpoint span holds {count} elements where {destination.Length} were expected.");
        }

        Take(count * Marshal.SizeOf<T>()).CopyTo(MemoryMarshal.AsBytes(destination));
    }

    /// <summary>
    /// Consumes and returns the next <paramref name="byteCount"/> bytes of the payload: one part of a span read in parts
    /// (after its count), which the caller may compare before copying.
    /// </summary>
    public ReadOnlySpan<byte> ReadBytes(int byteCount) => Take(byteCount);

    /// <summary>Reads a span written by <see cref="CheckpointWriter.WriteSpan{T}(ReadOnlySpan{T})"/> into a new array.</summary>
    public T[] ReadArray<T>()
        where T : unmanaged
    {
        int count = PeekSpanLength();
        if (count < 0 || (long)count * Marshal.SizeOf<T>() > _payload.Length - _position - 4)
        {
            throw new CheckpointFormatException($"Checkpoint span length {count} is impossible here.");
        }

        var result = new T[count];
        ReadSpan<T>(result);
        return result;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _payload.Length - _position < count)
        {
            throw new CheckpointFormatException($"Checkpoint payload ends early: wanted {count} bytes at offset {_position} of {_payload.Length}.");
        }

        ReadOnlySpan<byte> slice = _payload.Slice(_position, count);
        _position += count;
        return slice;
    }
}
