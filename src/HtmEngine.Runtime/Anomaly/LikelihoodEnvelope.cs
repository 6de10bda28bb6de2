using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HtmEngine.Core.Anomaly;

namespace HtmEngine.Runtime.Anomaly;

/// <summary>
/// The anomaly service's part of <c>metric.model_params</c> (docs/engine-design.md):
/// <c>"anomalyLikelihood": {"rowid": R, "state": S}</c>, where R is the newest row fed into the likelihood and S the
/// §8.3 state (<c>{"last_rowid_for_stats": …, "params": …}</c>, or null while fewer than
/// <c>statistics_min_sample_size</c> rows were scored). Every other member of <c>model_params</c> is kept as it is.
/// </summary>
public static class LikelihoodEnvelope
{
    /// <summary>The member of <c>model_params</c> the anomaly service owns.</summary>
    public const string MemberName = "anomalyLikelihood";

    /// <summary>Reads the covered rowid and the state from <c>model_params</c> (0 and null when absent).</summary>
    /// <param name="modelParams">The column's text, or null.</param>
    /// <returns>The newest row fed and the state.</returns>
    /// <exception cref="FormatException">The text or the member is malformed; the message names the member.</exception>
    public static (long Rowid, EngineLikelihoodState? State) Read(string? modelParams)
    {
        if (string.IsNullOrWhiteSpace(modelParams))
        {
            return (0, null);
        }

        try
        {
            using var document = JsonDocument.Parse(modelParams);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (0, null);
            }

            if (!root.TryGetProperty(MemberName, out var envelope) || envelope.ValueKind == JsonValueKind.Null)
            {
                return (0, null);
            }

            if (envelope.ValueKind != JsonValueKind.Object || !envelope.TryGetProperty("rowid", out var rowid) || rowid.ValueKind != JsonValueKind.Number)
            {
                throw new FormatException($"model_params member '{MemberName}' must be an object with a numeric 'rowid'");
            }

            var state = envelope.TryGetProperty("state", out var s) ? EngineLikelihoodState.FromJson(s) : null;
            return (rowid.GetInt64(), state);
        }
        catch (JsonException e)
        {
            throw new FormatException("model_params is not valid JSON: " + e.Message, e);
        }
    }

    /// <summary>The covered rowid alone (0 when absent), for the compare-and-set under the row lock.</summary>
    /// <param name="modelParams">The column's text, or null.</param>
    /// <returns>The rowid.</returns>
    /// <exception cref="FormatException">The text is malformed.</exception>
    public static long ReadRowid(string? modelParams) => Read(modelParams).Rowid;

    /// <summary>Serialises the envelope member's value.</summary>
    /// <param name="rowid">The newest row fed.</param>
    /// <param name="state">The state, or null.</param>
    /// <returns>The JSON text of the member's value.</returns>
    public static string Write(long rowid, EngineLikelihoodState? state)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("rowid", rowid);
            writer.WritePropertyName("state");
            if (state is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                state.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Returns <paramref name="modelParams"/> with the envelope member replaced, other members untouched.</summary>
    /// <param name="modelParams">The column's text, or null.</param>
    /// <param name="envelopeJson">The member's new value from <see cref="Write"/>.</param>
    /// <returns>The new column text.</returns>
    public static string Merge(string? modelParams, string envelopeJson)
    {
        JsonObject root;
        try
        {
            root = string.IsNullOrWhiteSpace(modelParams) ? new JsonObject() : JsonNode.Parse(modelParams) as JsonObject ?? new JsonObject();
        }
        catch (JsonException)
        {
            root = new JsonObject();
        }

        root[MemberName] = JsonNode.Parse(envelopeJson);
        return root.ToJsonString();
    }
}
