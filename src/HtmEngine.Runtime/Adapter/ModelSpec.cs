using System.Text.Json;
using System.Text.Json.Nodes;

namespace HtmEngine.Runtime.Adapter;

/// <summary>
/// A validated <c>monitorMetric</c> model spec (htmengine-spec §1.3f, §4.2): <c>datasource</c>, <c>metricSpec</c>
/// {<c>metric</c> | <c>uid</c>, <c>unit</c>, <c>resource</c>, <c>userInfo</c>}, optional <c>modelParams</c>
/// {<c>min</c>, <c>max</c>, <c>minResolution</c>, <c>enableClassifier</c>} or <c>completeModelParams</c>.
/// Unknown fields are rejected as the seed's JSON schemas do.
/// </summary>
internal sealed class ModelSpec
{
    private static readonly JsonSerializerOptions s_pretty = new() { WriteIndented = true };

    private ModelSpec(JsonObject root)
    {
        Root = root;
    }

    /// <summary>The spec as given (a private copy).</summary>
    public JsonObject Root { get; }

    /// <summary><c>metricSpec.uid</c>, or null.</summary>
    public string? Uid { get; private set; }

    /// <summary><c>metricSpec.metric</c>, or null.</summary>
    public string? MetricName { get; private set; }

    /// <summary><c>metricSpec.resource</c>, or null.</summary>
    public string? Resource { get; private set; }

    /// <summary><c>modelParams.min</c>, or null.</summary>
    public double? Min { get; private set; }

    /// <summary><c>modelParams.max</c>, or null.</summary>
    public double? Max { get; private set; }

    /// <summary><c>modelParams.minResolution</c>, or null.</summary>
    public double? MinResolution { get; private set; }

    /// <summary>True when <c>completeModelParams</c> was given.</summary>
    public bool HasCompleteModelParams { get; private set; }

    /// <summary>The encoder range named by <c>completeModelParams</c>, when its value encoder gives <c>minval</c>/<c>maxval</c>.</summary>
    public (double Min, double Max)? CompleteRange { get; private set; }

    /// <summary>Parses JSON text.</summary>
    /// <param name="json">The spec.</param>
    /// <returns>The validated spec.</returns>
    /// <exception cref="InvalidRequestException">Not JSON, not an object, or a field is missing or wrong.</exception>
    public static ModelSpec Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException("modelSpec is not valid JSON: " + e.Message, e);
        }

        return From(node as JsonObject ?? throw new InvalidRequestException("modelSpec must be a JSON object"));
    }

    /// <summary>Validates a spec object (it is copied, never modified).</summary>
    /// <param name="spec">The spec.</param>
    /// <returns>The validated spec.</returns>
    /// <exception cref="InvalidRequestException">A field is missing or wrong; the message names it.</exception>
    public static ModelSpec From(JsonObject spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var copy = (JsonObject)spec.DeepClone();
        var result = new ModelSpec(copy);
        CheckKeys(copy, "modelSpec", "datasource", "metricSpec", "modelParams", "completeModelParams");
        var datasource = OptionalString(copy, "datasource", "modelSpec") ?? throw new InvalidRequestException("modelSpec.datasource is required");
        if (datasource != "custom")
        {
            throw new InvalidRequestException($"modelSpec.datasource '{datasource}' is not supported; the only datasource is 'custom'");
        }

        var metricSpec = copy["metricSpec"] as JsonObject ?? throw new InvalidRequestException("modelSpec.metricSpec is required and must be an object");
        CheckKeys(metricSpec, "modelSpec.metricSpec", "metric", "uid", "unit", "resource", "userInfo");
        result.Uid = OptionalString(metricSpec, "uid", "modelSpec.metricSpec");
        result.MetricName = OptionalString(metricSpec, "metric", "modelSpec.metricSpec");
        result.Resource = OptionalString(metricSpec, "resource", "modelSpec.metricSpec");
        OptionalString(metricSpec, "unit", "modelSpec.metricSpec");
        if (metricSpec["userInfo"] is { } userInfo && userInfo is not JsonObject)
        {
            throw new InvalidRequestException("modelSpec.metricSpec.userInfo must be an object");
        }

        if (result.Uid is null && result.MetricName is null)
        {
            throw new InvalidRequestException("Neither uid nor metric name present in metricSpec; modelSpec.metricSpec needs 'uid' or 'metric'");
        }

        if (result.MetricName is { Length: 0 } || result.Uid is { Length: 0 })
        {
            throw new InvalidRequestException("modelSpec.metricSpec: 'metric' and 'uid' must not be empty");
        }

        var hasModelParams = copy.ContainsKey("modelParams") && copy["modelParams"] is not null;
        if (copy["completeModelParams"] is { } complete)
        {
            if (hasModelParams)
            {
                throw new InvalidRequestException("Specify either modelParams or completeModelParams but not both.");
            }

            result.ParseComplete(complete as JsonObject ?? throw new InvalidRequestException("modelSpec.completeModelParams must be an object"));
        }
        else if (hasModelParams)
        {
            result.ParseModelParams(copy["modelParams"] as JsonObject ?? throw new InvalidRequestException("modelSpec.modelParams must be an object"));
        }

        return result;
    }

    private void ParseModelParams(JsonObject modelParams)
    {
        CheckKeys(modelParams, "modelSpec.modelParams", "min", "max", "minResolution", "enableClassifier");
        Min = OptionalNumber(modelParams, "min", "modelSpec.modelParams");
        Max = OptionalNumber(modelParams, "max", "modelSpec.modelParams");
        MinResolution = OptionalNumber(modelParams, "minResolution", "modelSpec.modelParams");
        if (modelParams["enableClassifier"] is { } classifier && classifier.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new InvalidRequestException("modelSpec.modelParams.enableClassifier must be true or false");
        }

        if (Min.HasValue != Max.HasValue)
        {
            throw new InvalidRequestException($"min and max params must both be None or non-None; got min={Format(Min)} max={Format(Max)}");
        }

        if (Min > Max)
        {
            throw new InvalidRequestException($"modelSpec.modelParams: min ({Min}) must not exceed max ({Max})");
        }

        if (MinResolution is <= 0)
        {
            throw new InvalidRequestException($"modelSpec.modelParams.minResolution must be positive, got {MinResolution}");
        }
    }

    private void ParseComplete(JsonObject complete)
    {
        HasCompleteModelParams = true;
        CheckKeys(complete, "modelSpec.completeModelParams", "modelConfig", "inferenceArgs", "timestampFieldName", "valueFieldName");
        var inferenceArgs = complete["inferenceArgs"] as JsonObject ?? throw new InvalidRequestException("inferenceArgs must be specified in completeModelParams.");
        _ = OptionalString(complete, "timestampFieldName", "modelSpec.completeModelParams") ?? throw new InvalidRequestException("timestampFieldName must be specified in completeModelParams.");
        var valueField = OptionalString(complete, "valueFieldName", "modelSpec.completeModelParams") ?? throw new InvalidRequestException("valueFieldName must be specified in completeModelParams.");
        if (inferenceArgs["predictedField"] is not JsonValue predicted || predicted.GetValueKind() != JsonValueKind.String || predicted.GetValue<string>() != valueField)
        {
            throw new InvalidRequestException("Inference args' predictedField must match complete model params' valueFieldName");
        }

        var modelConfig = complete["modelConfig"] as JsonObject ?? throw new InvalidRequestException("modelConfig must be specified in completeModelParams.");

        // Our models are built from a ModelDefinition; the only part of an OPF config that maps onto it
        // is the value encoder's range.
        if (modelConfig["modelParams"]?["sensorParams"]?["encoders"] is JsonObject encoders)
        {
            foreach (var (_, encoder) in encoders)
            {
                if (encoder is JsonObject e && e["fieldname"] is JsonValue f && f.GetValueKind() == JsonValueKind.String && f.GetValue<string>() == valueField
                    && e["minval"] is JsonValue lo && lo.GetValueKind() == JsonValueKind.Number && e["maxval"] is JsonValue hi && hi.GetValueKind() == JsonValueKind.Number)
                {
                    double min = lo.GetValue<double>(), max = hi.GetValue<double>();
                    if (double.IsFinite(min) && double.IsFinite(max) && min <= max)
                    {
                        CompleteRange = (min, max);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The canonical spec stored in <c>metric.parameters</c>: <c>metricSpec.uid</c> dropped, <c>metricSpec.metric</c>
    /// set to the metric's name, pretty-printed (indent 2) as the original stored it.
    /// </summary>
    /// <param name="metricName">The metric's name.</param>
    /// <returns>The JSON text.</returns>
    public string CanonicalJson(string metricName)
    {
        var canonical = (JsonObject)Root.DeepClone();
        var metricSpec = (JsonObject)canonical["metricSpec"]!;
        metricSpec.Remove("uid");
        metricSpec["metric"] = metricName;
        return canonical.ToJsonString(s_pretty);
    }

    private static void CheckKeys(JsonObject obj, string where, params ReadOnlySpan<string> allowed)
    {
        foreach (var (key, _) in obj)
        {
            if (!allowed.Contains(key))
            {
                throw new InvalidRequestException($"{where}: unknown field '{key}' (allowed: {string.Join(", ", allowed.ToArray())})");
            }
        }
    }

    private static string? OptionalString(JsonObject obj, string key, string where)
    {
        if (obj[key] is not { } node)
        {
            return null;
        }

        return node is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw new InvalidRequestException($"{where}.{key} must be a string");
    }

    private static double? OptionalNumber(JsonObject obj, string key, string where)
    {
        if (obj[key] is not { } node)
        {
            return null;
        }

        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            var d = v.GetValue<double>();
            if (double.IsFinite(d))
            {
                return d;
            }
        }

        throw new InvalidRequestException($"{where}.{key} must be a finite number");
    }

    private static string Format(double? value) => value is { } v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "None";
}
