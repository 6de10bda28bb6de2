using System.Text.Json;
using HtmEngine.Core.Anomaly;
using HtmEngine.Runtime.Anomaly;

namespace HtmEngine.Tests.Unit.Runtime;

public class LikelihoodEnvelopeTests
{
    [Fact]
    public void Absent_or_null_member_means_nothing_fed_yet()
    {
        Assert.Equal((0L, (EngineLikelihoodState?)null), LikelihoodEnvelope.Read(null));
        Assert.Equal((0L, (EngineLikelihoodState?)null), LikelihoodEnvelope.Read("{\"modelDefinition\":{}}"));
        Assert.Equal((0L, (EngineLikelihoodState?)null), LikelihoodEnvelope.Read("{\"anomalyLikelihood\":null}"));
    }

    [Fact]
    public void Merge_replaces_only_its_member_and_round_trips_the_state()
    {
        var estimator = EngineAnomalyLikelihood.Estimate([new ScoredRow(1, default, 1, 0.1), new ScoredRow(2, default, 2, 0.3)], 0);
        var state = new EngineLikelihoodState(2, estimator);
        string merged = LikelihoodEnvelope.Merge("{\"modelDefinition\":{\"paramSet\":\"nab\",\"min\":0,\"max\":1},\"anomalyLikelihood\":null,\"other\":[1,2]}", LikelihoodEnvelope.Write(57, state));
        using var json = JsonDocument.Parse(merged);
        Assert.Equal("nab", json.RootElement.GetProperty("modelDefinition").GetProperty("paramSet").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("other").GetArrayLength());
        var (rowid, read) = LikelihoodEnvelope.Read(merged);
        Assert.Equal(57, rowid);
        Assert.Equal(EngineLikelihoodState.ToJson(state), EngineLikelihoodState.ToJson(read));
        Assert.Equal(9, LikelihoodEnvelope.ReadRowid(LikelihoodEnvelope.Merge(merged, LikelihoodEnvelope.Write(9, null))));
    }

    [Theory]
    [InlineData("{\"anomalyLikelihood\":{\"state\":null}}")]
    [InlineData("{\"anomalyLikelihood\":[1]}")]
    [InlineData("{not json")]
    public void Malformed_member_is_a_format_error_naming_it(string modelParams)
    {
        var e = Assert.Throws<FormatException>(() => LikelihoodEnvelope.Read(modelParams));
        Assert.Contains("model_params", e.Message, StringComparison.Ordinal);
    }
}
