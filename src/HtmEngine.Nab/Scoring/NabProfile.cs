using System.Text.Json;

namespace HtmEngine.Nab.Scoring;

/// <summary>One NAB application profile: the cost matrix that weights true and false detections.</summary>
/// <param name="Name">The profile key as in NAB's <c>profiles.json</c>, e.g. <c>standard</c>.</param>
/// <param name="TpWeight">A_TP: the reward for detecting a window at its left edge.</param>
/// <param name="FpWeight">A_FP: the magnitude of the cost of one false-positive row.</param>
/// <param name="FnWeight">A_FN: the cost of a window that is never detected.</param>
/// <param name="TnWeight">The true-negative weight (read for completeness; NAB never uses it).</param>
public sealed record NabProfile(string Name, double TpWeight, double FpWeight, double FnWeight, double TnWeight)
{
    /// <summary>The key of the standard profile.</summary>
    public const string StandardName = "standard";

    /// <summary>The key of the profile that rewards a low false-positive rate.</summary>
    public const string LowFpName = "reward_low_FP_rate";

    /// <summary>The key of the profile that rewards a low false-negative rate.</summary>
    public const string LowFnName = "reward_low_FN_rate";

    /// <summary>NAB's standard profile (A_TP 1, A_FP 0.11, A_FN 1).</summary>
    public static NabProfile Standard { get; } = new(StandardName, 1.0, 0.11, 1.0, 1.0);

    /// <summary>NAB's reward_low_FP_rate profile (A_TP 1, A_FP 0.22, A_FN 1).</summary>
    public static NabProfile RewardLowFp { get; } = new(LowFpName, 1.0, 0.22, 1.0, 1.0);

    /// <summary>NAB's reward_low_FN_rate profile (A_TP 1, A_FP 0.11, A_FN 2).</summary>
    public static NabProfile RewardLowFn { get; } = new(LowFnName, 1.0, 0.11, 2.0, 1.0);

    /// <summary>The three NAB profiles in NAB's order: standard, reward_low_FP_rate, reward_low_FN_rate.</summary>
    public static IReadOnlyList<NabProfile> Defaults { get; } = [Standard, RewardLowFp, RewardLowFn];

    /// <summary>
    /// Reads a NAB <c>profiles.json</c> (<c>{ name: { "CostMatrix": { tpWeight, fpWeight, fnWeight, tnWeight } } }</c>).
    /// The three NAB profiles must be present; they are returned first in NAB's order, followed by any others.
    /// </summary>
    /// <param name="path">The JSON file.</param>
    /// <returns>The profiles.</returns>
    /// <exception cref="NabDataException">The file is missing, not valid JSON, or lacks a weight.</exception>
    public static IReadOnlyList<NabProfile> Load(string path)
    {
        using (JsonDocument document = NabJson.ParseObject(path, "profiles file", "expected a JSON object of profiles"))
        {

            var all = new List<NabProfile>();
            foreach (JsonProperty profile in document.RootElement.EnumerateObject())
            {
                if (profile.Value.ValueKind != JsonValueKind.Object
                    || !profile.Value.TryGetProperty("CostMatrix", out JsonElement matrix)
                    || matrix.ValueKind != JsonValueKind.Object)
                {
                    throw new NabFormatException(path, null, $"profile '{profile.Name}' has no \"CostMatrix\" object");
                }

                all.Add(new NabProfile(
                    profile.Name,
                    Weight(path, profile.Name, matrix, "tpWeight"),
                    Weight(path, profile.Name, matrix, "fpWeight"),
                    Weight(path, profile.Name, matrix, "fnWeight"),
                    matrix.TryGetProperty("tnWeight", out _) ? Weight(path, profile.Name, matrix, "tnWeight") : 1.0));
            }

            var ordered = new List<NabProfile>();
            foreach (string required in new[] { StandardName, LowFpName, LowFnName })
            {
                NabProfile? found = all.Find(p => p.Name == required)
                    ?? throw new NabFormatException(path, null, $"profile '{required}' is missing");
                ordered.Add(found);
            }

            ordered.AddRange(all.Where(p => p.Name is not (StandardName or LowFpName or LowFnName)));
            return ordered;
        }
    }

    private static double Weight(string path, string profile, JsonElement matrix, string name)
    {
        if (!matrix.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.Number
            || !value.TryGetDouble(out double weight) || !double.IsFinite(weight))
        {
            throw new NabFormatException(path, null, $"profile '{profile}': \"{name}\" is missing or not a finite number");
        }

        return weight;
    }
}
