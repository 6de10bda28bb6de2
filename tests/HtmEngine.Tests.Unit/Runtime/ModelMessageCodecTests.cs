using HtmEngine.Runtime.Contracts;

namespace HtmEngine.Tests.Unit.Runtime;

public sealed class ModelMessageCodecTests
{
    private static readonly DateTime s_t0 = new(2015, 3, 1, 12, 5, 0, DateTimeKind.Utc);

    [Fact]
    public void Requests_round_trip_in_order_with_every_field()
    {
        var definition = new ModelDefinition("nab", -1.5, 99.25, 0.001, "tm");
        ModelRequest[] requests =
        [
            ModelRequest.Define("uid-a", "cmd-1", definition),
            ModelRequest.ForRow("uid-a", 1, s_t0, 3.25),
            ModelRequest.ForRow("uid-b", 7, s_t0.AddTicks(1), double.MaxValue),
            ModelRequest.Delete("uid-b", "cmd-2"),
        ];

        List<ModelRequest> decoded = ModelMessageCodec.DecodeRequests(ModelMessageCodec.EncodeRequests(requests));

        Assert.Equal(requests, decoded);
        Assert.Equal(DateTimeKind.Utc, decoded[1].Timestamp.Kind);
        Assert.Equal(definition, ModelDefinition.FromJson(decoded[0].Arguments!));
    }

    [Fact]
    public void Results_round_trip_in_order_with_every_field()
    {
        ModelResult[] results =
        [
            ModelResult.Scored("uid-a", 42, s_t0, 1.5, 0.125),
            ModelResult.ForCommand("uid-a", "cmd-1", "defineModel", 0, null),
            ModelResult.ForCommand("uid-c", "cmd-9", "deleteModel", 1004, "model not found: uid-c"),
        ];

        Assert.Equal(results, ModelMessageCodec.DecodeResults(ModelMessageCodec.EncodeResults(results)));
    }

    [Fact]
    public void A_truncated_or_foreign_body_is_a_format_error_that_says_why()
    {
        byte[] body = ModelMessageCodec.EncodeRequests([ModelRequest.ForRow("uid-a", 1, s_t0, 1)]);

        FormatException truncated = Assert.Throws<FormatException>(() => ModelMessageCodec.DecodeRequests(body.AsSpan(0, body.Length - 3)));
        Assert.Contains("truncated", truncated.Message, StringComparison.Ordinal);
        FormatException foreign = Assert.Throws<FormatException>(() => ModelMessageCodec.DecodeResults(body));
        Assert.Contains("magic", foreign.Message, StringComparison.Ordinal);
        FormatException trailing = Assert.Throws<FormatException>(() => ModelMessageCodec.DecodeRequests([.. body, 0]));
        Assert.Contains("unexpected bytes", trailing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_definition_json_rejects_a_bad_range_by_field()
    {
        FormatException e = Assert.Throws<FormatException>(() => ModelDefinition.FromJson("""{"paramSet":"nab","min":5,"max":1}"""));
        Assert.Contains("'min'", e.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => ModelDefinition.FromJson("""{"min":0,"max":1}"""));
        Assert.Throws<FormatException>(() => ModelDefinition.FromJson("{"));
    }

    [Fact]
    public void Shards_are_stable_and_spread()
    {
        // Pinned values: every process sharing a broker must agree, across versions.
        Assert.Equal(5, ModelShards.ShardOf("a", 7)); // FNV-1a("a") = 3826002220
        int[] counts = new int[4];
        for (int i = 0; i < 4000; i++)
        {
            counts[ModelShards.ShardOf(Guid.NewGuid().ToString("N"), 4)]++;
        }

        foreach (int c in counts)
        {
            Assert.InRange(c, 800, 1200);
        }

        Assert.Equal("htmengine.mswapper.model.input.shard.3", ModelShards.InputQueue("htmengine.mswapper.model.input.", 3));
    }
}
