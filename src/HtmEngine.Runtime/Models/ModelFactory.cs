using System.Text.Json;
using HtmEngine.Core.Models;
using HtmEngine.Core.TemporalMemory;
using HtmEngine.Runtime.Contracts;

namespace HtmEngine.Runtime.Models;

/// <summary>Builds models from <see cref="ModelDefinition"/>s, reads definitions from <c>metric.model_params</c>, and estimates a model's memory.</summary>
public static class ModelFactory
{
    /// <summary>
    /// Retained bytes of a freshly built backtracking-TM model of either parameter set (encoders, a 2048-column spatial
    /// pooler whose permanence rows and potential pools are still the process's shared initial state, an empty
    /// 65,536-cell temporal memory). Measured with <c>GC.GetTotalMemory(true)</c> around <c>new HtmModel(...)</c>
    /// after a first model had built the shared state: 3.27 MB for <c>nab</c> and <c>htmengine-0.3.4</c> alike
    /// (docs/model-swapping.md; 11.70 MB, then 9.50 MB, before the pooler shared its initial state).
    /// </summary>
    public const long FreshModelBytes = 3_400_000;

    /// <summary>The same for a model with the plain temporal memory (<c>tm</c>): 5.20 MB measured.</summary>
    public const long FreshTemporalMemoryModelBytes = 5_400_000;

    /// <summary>
    /// Retained bytes per temporal-memory segment as the model learns: segment arrays, the segment's synapse slots
    /// (source and permanence per slot), per-cell slot lists and forward links, with the array growth slack. Measured
    /// 900 B/segment after 100 rows, 1,010 after 1,000 and 1,163 after the 22,695 rows of
    /// machine_temperature_system_failure (20,556 segments), the spatial pooler's own rows taken out; the estimate
    /// takes the larger figure.
    /// </summary>
    public const long BytesPerSegment = 1_200;

    /// <summary>Builds a fresh model for a definition.</summary>
    /// <param name="definition">The definition.</param>
    /// <returns>The model.</returns>
    /// <exception cref="ArgumentException">The definition names an unknown parameter set or temporal memory, or an invalid range.</exception>
    public static HtmModel Build(ModelDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        TemporalMemoryKind kind = definition.TemporalMemory switch
        {
            "backtracking" or "" => TemporalMemoryKind.Backtracking,
            "tm" => TemporalMemoryKind.TemporalMemory,
            _ => throw new ArgumentException($"model definition: 'tm' is '{definition.TemporalMemory}'; expected backtracking or tm", nameof(definition)),
        };
        ModelParameters parameters = definition.ParameterSet == ModelParameters.HtmEngine034SetName && definition.MinResolution is { } minResolution
            ? ModelParameters.HtmEngine034(definition.Min, definition.Max, minResolution, kind)
            : ModelParameters.Create(definition.ParameterSet, definition.Min, definition.Max, kind);
        return new HtmModel(parameters);
    }

    /// <summary>
    /// The estimated retained bytes of a model: <see cref="FreshModelBytes"/> (or
    /// <see cref="FreshTemporalMemoryModelBytes"/>) plus <see cref="BytesPerSegment"/> per temporal-memory segment plus
    /// the spatial pooler's own permanence rows (those learning changed; 68 after 5 rows, ~150 after 1,000, 314 after
    /// 22,695, of 2,048). Cheap (reads three counters), so it is refreshed after every use. The shared initial state
    /// (~4.4 MB per parameter set and process) is not counted per model.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <returns>Bytes.</returns>
    public static long EstimateBytes(HtmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        long segments = model.SequenceMemory switch
        {
            BacktrackingTm backtracking => backtracking.SegmentCount,
            TemporalMemory tm => tm.SegmentCount,
            _ => 0,
        };
        long fresh = model.SequenceMemory is TemporalMemory ? FreshTemporalMemoryModelBytes : FreshModelBytes;
        long rows = (long)model.SpatialPooler.OwnedRowCount * model.SpatialPooler.RowBytes;
        return fresh + (segments * BytesPerSegment) + rows;
    }

    /// <summary>
    /// The <c>modelDefinition</c> member of a metric's <c>model_params</c> JSON (engine-design.md), or null when the
    /// text is empty or has none.
    /// </summary>
    /// <param name="modelParams">The column's text.</param>
    /// <returns>The definition, or null.</returns>
    /// <exception cref="FormatException">The text is not JSON, or its <c>modelDefinition</c> is not a valid definition.</exception>
    public static ModelDefinition? DefinitionFromModelParams(string? modelParams)
    {
        if (string.IsNullOrWhiteSpace(modelParams))
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(modelParams);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("modelDefinition", out JsonElement element)
                || element.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            return ModelDefinition.FromJson(element.GetRawText());
        }
        catch (JsonException e)
        {
            throw new FormatException("metric.model_params is not valid JSON: " + e.Message, e);
        }
    }
}
