using System.Buffers;
using System.Text;
using HtmEngine.Ingest;

namespace HtmEngine.Tests.Unit.Ingest;

public class MessageCodecTests
{
    private static MetricSampleBatch Batch()
    {
        var names = new MetricNameTable();
        var batch = new MetricSampleBatch(names, 10);
        batch.TryAdd(new MetricSample(names.GetOrAdd("a.b"u8), 1.5, 1_700_000_000));
        batch.TryAdd(new MetricSample(names.GetOrAdd("c;dc=eu"u8), -0.1, 1_700_000_001));
        batch.TryAdd(new MetricSample(names.GetOrAdd("a.b"u8), 1e-300, 1_700_000_002));
        batch.TryAdd(new MetricSample(names.GetOrAdd("ü"u8), 12345678901234567890.0, 0));
        return batch;
    }

    private static readonly ReceivedSample[] s_expected =
    [
        new("a.b", 1.5, 1_700_000_000),
        new("c;dc=eu", -0.1, 1_700_000_001),
        new("a.b", 1e-300, 1_700_000_002),
        new("ü", 12345678901234567890.0, 0),
    ];

    [Fact]
    public void Plain_json_round_trips_through_the_decoder()
    {
        var output = new ArrayBufferWriter<byte>();
        PlainMetricMessage.Encode(Batch(), output);
        string json = Encoding.UTF8.GetString(output.WrittenSpan);
        Assert.StartsWith("{\"protocol\":\"plain\",\"data\":[\"a.b 1.5 1700000000\",", json, StringComparison.Ordinal);
        DecodedMetricMessage decoded = MetricMessageDecoder.Decode(null, output.WrittenSpan, 0);
        Assert.Equal(s_expected, decoded.Samples);
        Assert.Empty(decoded.Rejected);
    }

    [Fact]
    public void Plain_json_from_another_publisher_is_parsed_with_the_graphite_rules()
    {
        byte[] body = PlainMetricMessage.Encode(["x 1 1700000000", "  y\t2   -1 ", "bad", "z nan 1700000000"]);
        DecodedMetricMessage decoded = MetricMessageDecoder.Decode("application/json; charset=utf-8", body, 42);
        Assert.Equal([new ReceivedSample("x", 1, 1_700_000_000), new ReceivedSample("y", 2, 42)], decoded.Samples);
        Assert.Equal([GraphiteRejectReason.TooFewFields, GraphiteRejectReason.NotFinite], decoded.Rejected.Select(r => r.Reason));
        Assert.Equal("bad", decoded.Rejected[0].Line);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{\"data\":[]}", "missing \"protocol\"")]
    [InlineData("{\"protocol\":\"pickle\",\"data\":[]}", "unsupported protocol \"pickle\"")]
    [InlineData("{\"protocol\":1,\"data\":[]}", "\"protocol\" must be a string")]
    [InlineData("{\"protocol\":\"plain\"}", "missing \"data\"")]
    [InlineData("{\"protocol\":\"plain\",\"data\":\"a 1 2\"}", "\"data\" must be an array")]
    [InlineData("{\"protocol\":\"plain\",\"data\":[\"a 1 2\",3]}", "data[1] is Number")]
    [InlineData("{\"protocol\":\"plain\",\"data\":[]", "not valid JSON")]
    public void Bad_json_bodies_fail_with_a_clear_message(string body, string expected)
    {
        var ex = Assert.Throws<MetricMessageFormatException>(() => PlainMetricMessage.DecodeLines(Encoding.UTF8.GetBytes(body)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_properties_are_ignored()
    {
        IReadOnlyList<string> lines = PlainMetricMessage.DecodeLines("{\"x\":{\"y\":[1]},\"protocol\":\"plain\",\"data\":[\"a 1 2\"]}"u8);
        Assert.Equal(["a 1 2"], lines);
    }

    [Fact]
    public void Binary_batches_round_trip_and_store_each_name_once()
    {
        byte[] body = SampleBatchCodec.Encode(Batch());
        Assert.Equal(12 + (2 + 3) + (2 + 7) + (2 + 2) + (4 * 20), body.Length);
        Assert.Equal(s_expected, SampleBatchCodec.Decode(body));
        Assert.Equal(s_expected, MetricMessageDecoder.Decode(SampleBatchCodec.ContentType, body, 0).Samples);
    }

    [Fact]
    public void Bad_binary_bodies_fail_with_a_clear_message()
    {
        byte[] body = SampleBatchCodec.Encode(Batch());
        Assert.Contains("header", Assert.Throws<MetricMessageFormatException>(() => SampleBatchCodec.Decode("XXXX00000000"u8)).Message, StringComparison.Ordinal);
        Assert.Contains("samples", Assert.Throws<MetricMessageFormatException>(() => SampleBatchCodec.Decode(body.AsSpan(0, body.Length - 1))).Message, StringComparison.Ordinal);
        byte[] badIndex = (byte[])body.Clone();
        badIndex[body.Length - 20] = 9;
        Assert.Contains("refers to name 9", Assert.Throws<MetricMessageFormatException>(() => SampleBatchCodec.Decode(badIndex)).Message, StringComparison.Ordinal);
        Assert.Contains("unknown content type", Assert.Throws<MetricMessageFormatException>(() => MetricMessageDecoder.Decode("text/csv", body, 0)).Message, StringComparison.Ordinal);
    }
}

public class SampleBatchEncoderTests
{
    [Fact]
    public void A_reused_encoder_writes_what_a_fresh_one_writes_and_it_decodes_back()
    {
        var names = new MetricNameTable();
        var encoder = new SampleBatchEncoder();
        var random = new Random(7);
        for (int round = 0; round < 50; round++)
        {
            var batch = new MetricSampleBatch(names, 300);
            var expected = new List<ReceivedSample>();
            int count = random.Next(1, 300);
            for (int i = 0; i < count; i++)
            {
                // Ids beyond the encoder's first array size (1024) appear in later rounds.
                string name = "m." + random.Next(0, 40 * (round + 1));
                var sample = new MetricSample(names.GetOrAdd(System.Text.Encoding.UTF8.GetBytes(name)), random.NextDouble() * 1000, 1_700_000_000 + i);
                batch.TryAdd(sample);
                expected.Add(new ReceivedSample(name, sample.Value, sample.TimestampSeconds));
            }

            var reused = new System.Buffers.ArrayBufferWriter<byte>();
            encoder.Encode(batch, reused);
            var fresh = new System.Buffers.ArrayBufferWriter<byte>();
            new SampleBatchEncoder().Encode(batch, fresh);
            Assert.Equal(fresh.WrittenSpan.ToArray(), reused.WrittenSpan.ToArray());
            Assert.Equal(expected, SampleBatchCodec.Decode(reused.WrittenSpan));
        }

        Assert.True(names.Count > 1024);
    }
}
