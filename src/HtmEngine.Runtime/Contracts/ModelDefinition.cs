using System.Text.Json;
using System.Text.Json.Serialization;

namespace HtmEngine.Runtime.Contracts;

/// <summary>
/// Everything a runner needs to build a metric's model: the parameter set of
/// <c>HtmEngine.Core.Models.ModelParameters</c>, the value range (already padded or inferred by the
/// adapter) and the temporal memory. Stored as JSON in <c>metric.model_params</c> and carried by
/// defineModel commands, so a model can be rebuilt from the database alone.
/// </summary>
/// <param name="ParameterSet">A name from <c>ModelParameters.SetNames</c> (<c>nab</c> or <c>htmengine-0.3.4</c>).</param>
/// <param name="Min">The lowest value the encoder expects.</param>
/// <param name="Max">The highest value the encoder expects.</param>
/// <param name="MinResolution">The encoder's minimum resolution, when the model spec gave one.</param>
/// <param name="TemporalMemory"><c>backtracking</c> (default) or <c>tm</c>.</param>
public sealed record ModelDefinition(
    [property: JsonPropertyName("paramSet")] string ParameterSet,
    [property: JsonPropertyName("min")] double Min,
    [property: JsonPropertyName("max")] double Max,
    [property: JsonPropertyName("minResolution")] double? MinResolution = null,
    [property: JsonPropertyName("tm")] string TemporalMemory = "backtracking")
{
    /// <summary>Serialises to the compact JSON carried in commands and stored in <c>model_params</c>.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, ModelDefinitionJson.Default.ModelDefinition);

    /// <summary>Parses the JSON written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The text.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="FormatException">The text is not a model definition; the message says which field is wrong.</exception>
    public static ModelDefinition FromJson(string json)
    {
        ModelDefinition? definition;
        try
        {
            definition = JsonSerializer.Deserialize(json, ModelDefinitionJson.Default.ModelDefinition);
        }
        catch (JsonException e)
        {
            throw new FormatException("model definition is not valid JSON: " + e.Message, e);
        }

        if (definition is null || string.IsNullOrEmpty(definition.ParameterSet))
        {
            throw new FormatException("model definition: field 'paramSet' is missing");
        }

        if (!double.IsFinite(definition.Min) || !double.IsFinite(definition.Max) || definition.Max < definition.Min)
        {
            throw new FormatException($"model definition: 'min' ({definition.Min}) and 'max' ({definition.Max}) must be finite with min <= max");
        }

        return definition;
    }
}

/// <summary>Source-generated JSON for <see cref="ModelDefinition"/> (no reflection, AOT-safe).</summary>
[JsonSerializable(typeof(ModelDefinition))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ModelDefinitionJson : JsonSerializerContext;
