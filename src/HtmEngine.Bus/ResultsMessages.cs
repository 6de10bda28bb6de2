using System.Buffers;
using System.IO.Compression;
using System.Text.Json;

namespace HtmEngine.Bus;

/// <summary>The metric an inference batch belongs to, as published on the results exchange.</summary>
/// <param name="Uid">Metric uid.</param>
/// <param name="Name">Metric name, or null.</param>
/// <param name="Description">Description, or null.</param>
/// <param name="Resource">The metric's server column, or null.</param>
/// <param name="Location">Location, or null.</param>
/// <param name="Datasource">Datasource (for example <c>custom</c>).</param>
/// <param name="SpecJson">The metric spec (<c>parameters.metricSpec</c>) as a JSON object text.</param>
public sealed record ResultsMetric(string Uid, string? Name, string? Description, string? Resource, string? Location, string Datasource, string SpecJson);

/// <summary>One scored row of an inference batch.</summary>
/// <param name="RowId">Row id.</param>
/// <param name="Timestamp">Unix epoch seconds of the stored timestamp.</param>
/// <param name="Value">The metric value.</param>
/// <param name="RawAnomaly">Raw anomaly score.</param>
/// <param name="Anomaly">Likelihood-based score (the stored <c>anomaly_score</c>).</param>
/// <param name="MultiStepBestPredictions">Step count to prediction, or null.</param>
public sealed record ResultsRow(long RowId, double Timestamp, double Value, double RawAnomaly, double Anomaly, IReadOnlyDictionary<int, double>? MultiStepBestPredictions);

/// <summary>A model command result as published on the results exchange.</summary>
/// <param name="Method"><c>defineModel</c>, <c>deleteModel</c> or <c>cloneModel</c>.</param>
/// <param name="ModelId">Model id (the metric uid).</param>
/// <param name="CommandId">Command id.</param>
/// <param name="Status">0 on success, else an error code.</param>
/// <param name="ErrorMessage">Error text, or null.</param>
/// <param name="ModelInfo">For a successful <c>defineModel</c>: metric name, resource and model spec; otherwise null.</param>
public sealed record ResultsCommand(string Method, string ModelId, string CommandId, int Status, string? ErrorMessage, ResultsModelInfo? ModelInfo);

/// <summary>The <c>modelInfo</c> of a successful <c>defineModel</c> result.</summary>
/// <param name="MetricName">Metric name.</param>
/// <param name="Resource">The metric's server column.</param>
/// <param name="ModelSpecJson">The decoded <c>metric.parameters</c> as a JSON object text.</param>
public sealed record ResultsModelInfo(string MetricName, string Resource, string ModelSpecJson);

/// <summary>
/// Encoders for the results exchange in the original's wire shape (htmengine-spec §1.3 e): zlib (RFC 1950) compressed
/// UTF-8 JSON, persistent, no content type or content encoding; inference batches carry no headers, model command
/// results carry the header <c>dataType = model-cmd-result</c>.
/// </summary>
public static class ResultsMessages
{
    /// <summary>The <c>dataType</c> header name.</summary>
    public const string DataTypeHeader = "dataType";

    /// <summary>The <c>dataType</c> of a model command result.</summary>
    public const string ModelCommandResultDataType = "model-cmd-result";

    private static readonly Dictionary<string, string> s_commandHeaders = new(StringComparer.Ordinal)
    {
        [DataTypeHeader] = ModelCommandResultDataType,
    };

    /// <summary>Encodes an inference results batch.</summary>
    /// <param name="metric">The metric.</param>
    /// <param name="rows">Its scored rows.</param>
    /// <param name="messageId">The message id, or null for a new one.</param>
    /// <returns>The message to publish to the results exchange.</returns>
    public static OutgoingMessage InferenceBatch(ResultsMetric metric, IEnumerable<ResultsRow> rows, string? messageId = null)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(rows);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("metric");
            json.WriteString("uid", metric.Uid);
            json.WriteString("name", metric.Name);
            json.WriteString("description", metric.Description);
            json.WriteString("resource", metric.Resource);
            json.WriteString("location", metric.Location);
            json.WriteString("datasource", metric.Datasource);
            json.WritePropertyName("spec");
            json.WriteRawValue(metric.SpecJson);
            json.WriteEndObject();
            json.WriteStartArray("results");
            foreach (var row in rows)
            {
                json.WriteStartObject();
                json.WriteNumber("rowid", row.RowId);
                json.WriteNumber("ts", row.Timestamp);
                json.WriteNumber("value", row.Value);
                json.WriteNumber("rawAnomaly", row.RawAnomaly);
                json.WriteNumber("anomaly", row.Anomaly);
                if (row.MultiStepBestPredictions is null)
                {
                    json.WriteNull("multiStepBestPredictions");
                }
                else
                {
                    json.WriteStartObject("multiStepBestPredictions");
                    foreach (var (steps, prediction) in row.MultiStepBestPredictions)
                    {
                        json.WriteNumber(steps.ToString(System.Globalization.CultureInfo.InvariantCulture), prediction);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return new OutgoingMessage(Deflate(buffer.WrittenSpan), messageId);
    }

    /// <summary>Encodes a model command result.</summary>
    /// <param name="result">The result.</param>
    /// <param name="messageId">The message id, or null for a new one.</param>
    /// <returns>The message to publish to the results exchange.</returns>
    public static OutgoingMessage CommandResult(ResultsCommand result, string? messageId = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("method", result.Method);
            json.WriteString("modelId", result.ModelId);
            json.WriteString("commandId", result.CommandId);
            json.WriteNumber("status", result.Status);
            json.WriteString("errorMessage", result.ErrorMessage);
            if (result.ModelInfo is { } info)
            {
                json.WriteStartObject("modelInfo");
                json.WriteString("metricName", info.MetricName);
                json.WriteString("resource", info.Resource);
                json.WritePropertyName("modelSpec");
                json.WriteRawValue(info.ModelSpecJson);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return new OutgoingMessage(Deflate(buffer.WrittenSpan), messageId, s_commandHeaders);
    }

    /// <summary>Inflates a results-exchange body (what a subscriber does before parsing the JSON).</summary>
    /// <param name="body">The zlib-compressed body.</param>
    /// <returns>The UTF-8 JSON.</returns>
    public static byte[] Inflate(ReadOnlyMemory<byte> body)
    {
        using var input = new MemoryStream(body.ToArray(), writable: false);
        using var zlib = new ZLibStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        zlib.CopyTo(output);
        return output.ToArray();
    }

    private static byte[] Deflate(ReadOnlySpan<byte> json)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(json);
        }

        return output.ToArray();
    }
}
