using System.Text.Json;
using HtmEngine.Bus;

namespace HtmEngine.Tests.Unit.Bus;

public sealed class ResultsMessagesTests
{
    [Fact]
    public void Inference_batch_is_zlib_json_without_headers_with_exactly_the_schema_fields()
    {
        var message = ResultsMessages.InferenceBatch(
            new ResultsMetric("u", "n", "d", "r", "l", "custom", "{\"metric\":\"n\"}"),
            [new ResultsRow(7, 1.5, 2.0, 0.1, 0.2, new Dictionary<int, double> { [1] = 3.0, [5] = 4.0 })],
            "mid");

        Assert.Null(message.Headers);
        Assert.Null(message.ContentType);
        Assert.True(message.Persistent);
        Assert.Equal("mid", message.MessageId);
        Assert.Equal(0x78, message.Body.Span[0]);
        using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
        var root = json.RootElement;
        Assert.Equal(["metric", "results"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["uid", "name", "description", "resource", "location", "datasource", "spec"],
            root.GetProperty("metric").EnumerateObject().Select(p => p.Name));
        var row = Assert.Single(root.GetProperty("results").EnumerateArray().ToArray());
        Assert.Equal(["rowid", "ts", "value", "rawAnomaly", "anomaly", "multiStepBestPredictions"], row.EnumerateObject().Select(p => p.Name));
        Assert.Equal(4.0, row.GetProperty("multiStepBestPredictions").GetProperty("5").GetDouble());
    }

    [Fact]
    public void Command_result_carries_the_dataType_header_and_omits_modelInfo_on_failure()
    {
        var message = ResultsMessages.CommandResult(new ResultsCommand("defineModel", "m", "c", 3, "boom", null));
        Assert.Equal("model-cmd-result", message.Headers![ResultsMessages.DataTypeHeader]);
        using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
        Assert.Equal(["method", "modelId", "commandId", "status", "errorMessage"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("boom", json.RootElement.GetProperty("errorMessage").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("status").GetInt32());
    }
}
