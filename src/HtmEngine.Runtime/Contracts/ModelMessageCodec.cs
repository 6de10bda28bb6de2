using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace HtmEngine.Runtime.Contracts;

/// <summary>
/// Binary bodies of the two internal queues: model input (storer/adapter → shard runner) and model
/// results (runner → anomaly service). They replace the original's JSON text messages (spec §1.3b/c),
/// which are internal, not part of the external contract.
/// </summary>
/// <remarks>
/// Layout, integers little-endian:
/// <code>
/// magic "HMQ1" (requests) or "HMR1" (results)
/// u32 uidCount, uidCount × { u16 byteLength, UTF-8 }     each distinct uid once
/// u32 entryCount, entryCount × entry
/// request entry: u8 kind, u32 uidIndex, i64 rowid, i64 timestampTicks, f64 value, str commandId, str arguments
/// result entry:  u8 kind, u32 uidIndex, i64 rowid, i64 timestampTicks, f64 value, f64 rawScore,
///                i32 status, str errorMessage, str commandId, str method
/// str: i32 byteLength (-1 = null), UTF-8
/// </code>
/// Timestamps are UTC ticks so that they round-trip exactly.
/// </remarks>
public static class ModelMessageCodec
{
    /// <summary>Content type of model input messages.</summary>
    public const string RequestsContentType = "application/vnd.htmengine.model-input.v1";

    /// <summary>Content type of model result messages.</summary>
    public const string ResultsContentType = "application/vnd.htmengine.model-results.v1";

    private static ReadOnlySpan<byte> RequestsMagic => "HMQ1"u8;

    private static ReadOnlySpan<byte> ResultsMagic => "HMR1"u8;

    /// <summary>Encodes model requests.</summary>
    /// <param name="requests">The entries, in order.</param>
    /// <returns>The body.</returns>
    public static byte[] EncodeRequests(ReadOnlySpan<ModelRequest> requests)
    {
        var writer = new ArrayBufferWriter<byte>(64 + (requests.Length * 40));
        writer.Write(RequestsMagic);
        var uids = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (ModelRequest r in requests)
        {
            Intern(uids, order, r.MetricUid);
        }

        WriteUidTable(writer, order);
        WriteUInt32(writer, (uint)requests.Length);
        foreach (ModelRequest r in requests)
        {
            Span<byte> span = writer.GetSpan(29);
            span[0] = (byte)r.Kind;
            BinaryPrimitives.WriteUInt32LittleEndian(span[1..], (uint)uids[r.MetricUid]);
            BinaryPrimitives.WriteInt64LittleEndian(span[5..], r.Rowid);
            BinaryPrimitives.WriteInt64LittleEndian(span[13..], r.Timestamp.Ticks);
            BinaryPrimitives.WriteDoubleLittleEndian(span[21..], r.Value);
            writer.Advance(29);
            WriteString(writer, r.CommandId);
            WriteString(writer, r.Arguments);
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes a body written by <see cref="EncodeRequests"/>.</summary>
    /// <param name="body">The body.</param>
    /// <returns>The entries, in order.</returns>
    /// <exception cref="FormatException">The body is truncated, has the wrong magic or an unknown kind.</exception>
    public static List<ModelRequest> DecodeRequests(ReadOnlySpan<byte> body)
    {
        var reader = new Reader(body);
        reader.ExpectMagic(RequestsMagic, "model input");
        string[] uids = reader.ReadUidTable();
        int count = reader.ReadCount();
        var result = new List<ModelRequest>(count);
        for (int i = 0; i < count; i++)
        {
            var kind = (ModelRequestKind)reader.ReadByte();
            if (kind is not (ModelRequestKind.Row or ModelRequestKind.DefineModel or ModelRequestKind.DeleteModel))
            {
                throw new FormatException($"model input message: entry {i} has unknown kind {(int)kind}");
            }

            string uid = reader.ReadUid(uids);
            long rowid = reader.ReadInt64();
            DateTime timestamp = reader.ReadTimestamp();
            double value = reader.ReadDouble();
            string? commandId = reader.ReadString();
            string? arguments = reader.ReadString();
            result.Add(new ModelRequest(kind, uid, rowid, timestamp, value, commandId, arguments));
        }

        reader.ExpectEnd("model input");
        return result;
    }

    /// <summary>Encodes model results.</summary>
    /// <param name="results">The entries, in order.</param>
    /// <returns>The body.</returns>
    public static byte[] EncodeResults(ReadOnlySpan<ModelResult> results)
    {
        var writer = new ArrayBufferWriter<byte>(64 + (results.Length * 48));
        writer.Write(ResultsMagic);
        var uids = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (ModelResult r in results)
        {
            Intern(uids, order, r.MetricUid);
        }

        WriteUidTable(writer, order);
        WriteUInt32(writer, (uint)results.Length);
        foreach (ModelResult r in results)
        {
            Span<byte> span = writer.GetSpan(41);
            span[0] = (byte)r.Kind;
            BinaryPrimitives.WriteUInt32LittleEndian(span[1..], (uint)uids[r.MetricUid]);
            BinaryPrimitives.WriteInt64LittleEndian(span[5..], r.Rowid);
            BinaryPrimitives.WriteInt64LittleEndian(span[13..], r.Timestamp.Ticks);
            BinaryPrimitives.WriteDoubleLittleEndian(span[21..], r.Value);
            BinaryPrimitives.WriteDoubleLittleEndian(span[29..], r.RawScore);
            BinaryPrimitives.WriteInt32LittleEndian(span[37..], r.Status);
            writer.Advance(41);
            WriteString(writer, r.ErrorMessage);
            WriteString(writer, r.CommandId);
            WriteString(writer, r.Method);
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes a body written by <see cref="EncodeResults"/>.</summary>
    /// <param name="body">The body.</param>
    /// <returns>The entries, in order.</returns>
    /// <exception cref="FormatException">The body is truncated, has the wrong magic or an unknown kind.</exception>
    public static List<ModelResult> DecodeResults(ReadOnlySpan<byte> body)
    {
        var reader = new Reader(body);
        reader.ExpectMagic(ResultsMagic, "model result");
        string[] uids = reader.ReadUidTable();
        int count = reader.ReadCount();
        var result = new List<ModelResult>(count);
        for (int i = 0; i < count; i++)
        {
            var kind = (ModelResultKind)reader.ReadByte();
            if (kind is not (ModelResultKind.Inference or ModelResultKind.CommandResult))
            {
                throw new FormatException($"model result message: entry {i} has unknown kind {(int)kind}");
            }

            string uid = reader.ReadUid(uids);
            long rowid = reader.ReadInt64();
            DateTime timestamp = reader.ReadTimestamp();
            double value = reader.ReadDouble();
            double rawScore = reader.ReadDouble();
            int status = reader.ReadInt32();
            string? error = reader.ReadString();
            string? commandId = reader.ReadString();
            string? method = reader.ReadString();
            result.Add(new ModelResult(kind, uid, rowid, timestamp, value, rawScore, status, error, commandId, method));
        }

        reader.ExpectEnd("model result");
        return result;
    }

    private static void Intern(Dictionary<string, int> uids, List<string> order, string uid)
    {
        ArgumentException.ThrowIfNullOrEmpty(uid);
        if (!uids.ContainsKey(uid))
        {
            uids.Add(uid, order.Count);
            order.Add(uid);
        }
    }

    private static void WriteUidTable(ArrayBufferWriter<byte> writer, List<string> order)
    {
        WriteUInt32(writer, (uint)order.Count);
        foreach (string uid in order)
        {
            int length = Encoding.UTF8.GetByteCount(uid);
            if (length > ushort.MaxValue)
            {
                throw new ArgumentException($"metric uid is {length} bytes long; at most {ushort.MaxValue} fit", nameof(order));
            }

            Span<byte> span = writer.GetSpan(2 + length);
            BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)length);
            Encoding.UTF8.GetBytes(uid, span[2..]);
            writer.Advance(2 + length);
        }
    }

    private static void WriteUInt32(ArrayBufferWriter<byte> writer, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    private static void WriteString(ArrayBufferWriter<byte> writer, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(4), -1);
            writer.Advance(4);
            return;
        }

        int length = Encoding.UTF8.GetByteCount(value);
        Span<byte> span = writer.GetSpan(4 + length);
        BinaryPrimitives.WriteInt32LittleEndian(span, length);
        Encoding.UTF8.GetBytes(value, span[4..]);
        writer.Advance(4 + length);
    }

    /// <summary>A bounds-checked cursor whose errors say what was truncated.</summary>
    private ref struct Reader(ReadOnlySpan<byte> body)
    {
        private readonly ReadOnlySpan<byte> _body = body;
        private int _at;

        public void ExpectMagic(ReadOnlySpan<byte> magic, string what)
        {
            if (_body.Length < magic.Length || !_body[..magic.Length].SequenceEqual(magic))
            {
                throw new FormatException($"{what} message: unknown format (expected magic {Encoding.ASCII.GetString(magic)})");
            }

            _at = magic.Length;
        }

        public readonly void ExpectEnd(string what)
        {
            if (_at != _body.Length)
            {
                throw new FormatException($"{what} message: {_body.Length - _at} unexpected bytes after the last entry");
            }
        }

        public string[] ReadUidTable()
        {
            int count = ReadCount();
            string[] uids = new string[count];
            for (int i = 0; i < count; i++)
            {
                int length = BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
                uids[i] = Encoding.UTF8.GetString(Take(length));
            }

            return uids;
        }

        public string ReadUid(string[] uids)
        {
            uint index = BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
            if (index >= (uint)uids.Length)
            {
                throw new FormatException($"message names uid #{index} but has {uids.Length}");
            }

            return uids[index];
        }

        public int ReadCount()
        {
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
            if (count > (uint)(_body.Length - _at))
            {
                throw new FormatException($"message claims {count} entries but has {_body.Length - _at} bytes left");
            }

            return (int)count;
        }

        public byte ReadByte() => Take(1)[0];

        public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public DateTime ReadTimestamp()
        {
            long ticks = ReadInt64();
            if ((ulong)ticks > (ulong)DateTime.MaxValue.Ticks)
            {
                throw new FormatException($"message has an out-of-range timestamp ({ticks} ticks)");
            }

            return new DateTime(ticks, DateTimeKind.Utc);
        }

        public string? ReadString()
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
            return length < 0 ? null : Encoding.UTF8.GetString(Take(length));
        }

        private ReadOnlySpan<byte> Take(int length)
        {
            if (length < 0 || length > _body.Length - _at)
            {
                throw new FormatException($"message is truncated at byte {_at} (needed {length} more, {_body.Length - _at} left)");
            }

            ReadOnlySpan<byte> slice = _body.Slice(_at, length);
            _at += length;
            return slice;
        }
    }
}
