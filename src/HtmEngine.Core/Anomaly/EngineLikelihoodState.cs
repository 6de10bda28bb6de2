using System.Buffers;
using System.Text;
using System.Text.Json;

namespace HtmEngine.Core.Anomaly;

/// <summary>
/// The nupic 0.3.4 estimator state (<c>params</c> of htmengine-spec §8.3): the fitted normal, the moving-average
/// state and the recent unfiltered likelihoods. Mutable; <see cref="Clone"/> before sharing.
/// </summary>
public sealed class LikelihoodEstimatorParams
{
    /// <summary>Distribution name; always "normal".</summary>
    public string DistributionName { get; set; } = "normal";

    /// <summary>Mean of the fitted normal.</summary>
    public double Mean { get; set; }

    /// <summary>Variance of the fitted normal.</summary>
    public double Variance { get; set; }

    /// <summary>Standard deviation of the fitted normal.</summary>
    public double Stdev { get; set; }

    /// <summary>The last ≤ <see cref="WindowSize"/> raw scores, oldest first.</summary>
    public List<double> HistoricalValues { get; } = new();

    /// <summary>Running total of <see cref="HistoricalValues"/> (kept incrementally, as the original does).</summary>
    public double Total { get; set; }

    /// <summary>Moving-average width (10).</summary>
    public int WindowSize { get; set; } = 10;

    /// <summary>The last ≤ <see cref="WindowSize"/> unfiltered likelihoods, oldest first.</summary>
    public List<double> HistoricalLikelihoods { get; } = new();

    /// <summary>Deep copy.</summary>
    public LikelihoodEstimatorParams Clone()
    {
        var copy = new LikelihoodEstimatorParams
        {
            DistributionName = DistributionName,
            Mean = Mean,
            Variance = Variance,
            Stdev = Stdev,
            Total = Total,
            WindowSize = WindowSize,
        };
        copy.HistoricalValues.AddRange(HistoricalValues);
        copy.HistoricalLikelihoods.AddRange(HistoricalLikelihoods);
        return copy;
    }

    /// <summary>Writes the object <c>{"distribution": …, "movingAverage": …, "historicalLikelihoods": […]}</c>.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteStartObject("distribution");
        writer.WriteString("name", DistributionName);
        writer.WriteNumber("mean", Mean);
        writer.WriteNumber("variance", Variance);
        writer.WriteNumber("stdev", Stdev);
        writer.WriteEndObject();
        writer.WriteStartObject("movingAverage");
        writer.WriteStartArray("historicalValues");
        foreach (double v in HistoricalValues)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
        writer.WriteNumber("total", Total);
        writer.WriteNumber("windowSize", WindowSize);
        writer.WriteEndObject();
        writer.WriteStartArray("historicalLikelihoods");
        foreach (double v in HistoricalLikelihoods)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>
    /// Reads the object written by <see cref="WriteTo"/> or by the original (Python's <c>json</c>). A missing
    /// <c>historicalLikelihoods</c> becomes [1.0], as the original's backward-compatibility rule does.
    /// </summary>
    /// <exception cref="FormatException">A required member is missing or has the wrong type.</exception>
    public static LikelihoodEstimatorParams FromJson(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("Estimator params must be a JSON object.");
        }

        var result = new LikelihoodEstimatorParams();
        JsonElement distribution = Required(element, "distribution", JsonValueKind.Object);
        result.DistributionName = Required(distribution, "name", JsonValueKind.String).GetString() ?? "normal";
        result.Mean = Required(distribution, "mean", JsonValueKind.Number).GetDouble();
        result.Variance = Required(distribution, "variance", JsonValueKind.Number).GetDouble();
        result.Stdev = Required(distribution, "stdev", JsonValueKind.Number).GetDouble();
        JsonElement movingAverage = Required(element, "movingAverage", JsonValueKind.Object);
        foreach (JsonElement v in Required(movingAverage, "historicalValues", JsonValueKind.Array).EnumerateArray())
        {
            result.HistoricalValues.Add(v.GetDouble());
        }

        result.Total = Required(movingAverage, "total", JsonValueKind.Number).GetDouble();
        result.WindowSize = Required(movingAverage, "windowSize", JsonValueKind.Number).GetInt32();
        if (element.TryGetProperty("historicalLikelihoods", out JsonElement likelihoods) && likelihoods.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement v in likelihoods.EnumerateArray())
            {
                result.HistoricalLikelihoods.Add(v.GetDouble());
            }
        }
        else
        {
            result.HistoricalLikelihoods.Add(1.0);
        }

        return result;
    }

    internal static JsonElement Required(JsonElement parent, string name, JsonValueKind kind)
    {
        if (!parent.TryGetProperty(name, out JsonElement value) || value.ValueKind != kind)
        {
            throw new FormatException($"Anomaly likelihood state: member \"{name}\" is missing or not a JSON {kind}.");
        }

        return value;
    }
}

/// <summary>
/// What htmengine persists per metric under <c>model_params["anomalyLikelihoodParams"]</c> (htmengine-spec §8.3):
/// <c>{"last_rowid_for_stats": rowid, "params": {…}}</c>; JSON <c>null</c> while not yet initialised.
/// </summary>
public sealed class EngineLikelihoodState
{
    /// <summary>Creates a state.</summary>
    public EngineLikelihoodState(long lastRowIdForStats, LikelihoodEstimatorParams estimatorParams)
    {
        ArgumentNullException.ThrowIfNull(estimatorParams);
        LastRowIdForStats = lastRowIdForStats;
        Params = estimatorParams;
    }

    /// <summary>Rowid of the newest sample used by the last estimate.</summary>
    public long LastRowIdForStats { get; set; }

    /// <summary>The estimator state.</summary>
    public LikelihoodEstimatorParams Params { get; set; }

    /// <summary>Deep copy.</summary>
    public EngineLikelihoodState Clone() => new(LastRowIdForStats, Params.Clone());

    /// <summary>Writes <c>{"last_rowid_for_stats": …, "params": {…}}</c>.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteNumber("last_rowid_for_stats", LastRowIdForStats);
        writer.WritePropertyName("params");
        Params.WriteTo(writer);
        writer.WriteEndObject();
    }

    /// <summary>The state as compact JSON text; <c>null</c> for a missing state.</summary>
    public static string ToJson(EngineLikelihoodState? state)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (state is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                state.WriteTo(writer);
            }
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Parses the value stored under <c>anomalyLikelihoodParams</c>; JSON null (or an empty object) gives null.</summary>
    /// <exception cref="FormatException">The JSON is not a valid state.</exception>
    public static EngineLikelihoodState? FromJson(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Null || element.ValueKind == JsonValueKind.Undefined)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("anomalyLikelihoodParams must be a JSON object or null.");
        }

        // The original tests the dict for truthiness: an empty object means "not initialised".
        using (JsonElement.ObjectEnumerator members = element.EnumerateObject())
        {
            if (!members.MoveNext())
            {
                return null;
            }
        }

        long lastRowId = LikelihoodEstimatorParams.Required(element, "last_rowid_for_stats", JsonValueKind.Number).GetInt64();
        var estimatorParams = LikelihoodEstimatorParams.FromJson(LikelihoodEstimatorParams.Required(element, "params", JsonValueKind.Object));
        return new EngineLikelihoodState(lastRowId, estimatorParams);
    }

    /// <summary>Parses JSON text (see <see cref="FromJson(JsonElement)"/>).</summary>
    /// <exception cref="FormatException">The text is not a valid state.</exception>
    public static EngineLikelihoodState? Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"anomalyLikelihoodParams is not valid JSON: {e.Message}", e);
        }
    }
}
