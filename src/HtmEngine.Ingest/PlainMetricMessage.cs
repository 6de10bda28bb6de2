using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HtmEngine.Ingest;

/// <summary>
/// The original listener's metric data message: UTF-8 JSON <c>{"protocol":"plain","data":["name value ts", …]}</c>,
/// one Graphite line per element. Other publishers may still send it, so the storer must accept it.
/// </summary>
public static class PlainMetricMessage
{
    /// <summary>The content type to mark this format with (the original sent no content type; treat none as this).</summary>
    public const string ContentType = "application/json";

    /// <summary>The only protocol value the original defined.</summary>
    public const string Protocol = "plain";

    /// <summary>Writes a batch as a plain message.</summary>
    /// <param name="batch">The samples.</param>
    /// <param name="output">Receives the UTF-8 JSON body.</param>
    public static void Encode(MetricSampleBatch batch, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(output);
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("protocol"u8, Protocol);
        writer.WriteStartArray("data"u8);
        byte[] line = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            foreach (MetricSample sample in batch.Samples)
            {
                ReadOnlySpan<byte> name = batch.Names.GetUtf8Name(sample.NameId);
                int needed = name.Length + 64;
                if (line.Length < needed)
                {
                    ArrayPool<byte>.Shared.Return(line);
                    line = ArrayPool<byte>.Shared.Rent(needed);
                }

                writer.WriteStringValue(FormatLine(name, sample.Value, sample.TimestampSeconds, line));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(line);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Writes lines as a plain message (for publishers that hold text lines).</summary>
    /// <param name="lines">Graphite lines without newlines.</param>
    /// <returns>The UTF-8 JSON body.</returns>
    public static byte[] Encode(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("protocol"u8, Protocol);
            writer.WriteStartArray("data"u8);
            foreach (string line in lines)
            {
                writer.WriteStringValue(line);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>Reads the lines of a plain message.</summary>
    /// <param name="body">The UTF-8 JSON body.</param>
    /// <returns>The <c>data</c> lines, unparsed.</returns>
    /// <exception cref="MetricMessageFormatException">The body is not JSON, is not an object, lacks <c>protocol</c> or
    /// <c>data</c>, names another protocol, or holds a non-string line.</exception>
    public static IReadOnlyList<string> DecodeLines(ReadOnlySpan<byte> body)
    {
        string? protocol = null;
        List<string>? lines = null;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new MetricMessageFormatException("Metric data message: the body must be a JSON object {\"protocol\":\"plain\",\"data\":[...]}.");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("protocol"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw new MetricMessageFormatException($"Metric data message: \"protocol\" must be a string, not {reader.TokenType}.");
                    }

                    protocol = reader.GetString();
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new MetricMessageFormatException($"Metric data message: \"data\" must be an array of strings, not {reader.TokenType}.");
                    }

                    lines = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.String)
                        {
                            throw new MetricMessageFormatException($"Metric data message: data[{lines.Count}] is {reader.TokenType}, expected a string \"name value timestamp\".");
                        }

                        lines.Add(reader.GetString()!);
                    }
                }
                else
                {
                    reader.Skip();
                }
            }

            // Make the reader check that the object is closed and nothing follows it.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            throw new MetricMessageFormatException($"Metric data message: the body is not valid JSON ({ex.Message}).", ex);
        }

        if (protocol is null)
        {
            throw new MetricMessageFormatException("Metric data message: missing \"protocol\".");
        }

        if (protocol != Protocol)
        {
            throw new MetricMessageFormatException($"Metric data message: unsupported protocol \"{protocol}\" (only \"plain\" is defined).");
        }

        return lines ?? throw new MetricMessageFormatException("Metric data message: missing \"data\".");
    }

    /// <summary>Formats <c>name value ts</c> (shortest round-trip value) into <paramref name="buffer"/>.</summary>
    internal static ReadOnlySpan<byte> FormatLine(ReadOnlySpan<byte> name, double value, long timestamp, Span<byte> buffer)
    {
        name.CopyTo(buffer);
        int at = name.Length;
        buffer[at++] = (byte)' ';
        if (!value.TryFormat(buffer[at..], out int written, "R", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("Line buffer too small.");
        }

        at += written;
        buffer[at++] = (byte)' ';
        if (!timestamp.TryFormat(buffer[at..], out written, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("Line buffer too small.");
        }

        return buffer[..(at + written)];
    }

    /// <summary>Formats one sample as a Graphite line (no newline).</summary>
    /// <param name="name">The metric name.</param>
    /// <param name="value">The value.</param>
    /// <param name="timestampSeconds">Epoch seconds.</param>
    /// <returns>The line.</returns>
    public static string FormatLine(string name, double value, long timestampSeconds)
    {
        ArgumentNullException.ThrowIfNull(name);
        byte[] utf8Name = Encoding.UTF8.GetBytes(name);
        byte[] buffer = new byte[utf8Name.Length + 64];
        return Encoding.UTF8.GetString(FormatLine(utf8Name, value, timestampSeconds, buffer));
    }
}
