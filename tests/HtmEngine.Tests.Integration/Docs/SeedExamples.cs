using System.Globalization;
using System.Text.Json;
using HtmEngine.Bus;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Docs;

/// <summary>
/// The C# equivalents of the seed README's "Post-processing the results" and "Real-time results" examples, exactly as
/// <c>docs/examples.md</c> shows them: <see cref="SeedExamplesTests"/> checks that the document holds these lines and
/// runs them against an engine.
/// </summary>
public static class SeedExamples
{
    /// <summary>Prints every row of a metric: name, value, epoch seconds, anomaly score.</summary>
    public static async Task PostProcessAsync(StorageOptions storage, string metricName, TextWriter output)
    {
        // <post-processing>
        await using var repository = await MetricRepository.OpenAsync(storage);
        var metric = await repository.GetCustomMetricByNameAsync(metricName);
        var rows = await repository.GetMetricDataAsync(new MetricDataQuery
        {
            Uid = metric.Uid,
            Fields = MetricDataFields.MetricValue | MetricDataFields.Timestamp | MetricDataFields.AnomalyScore,
            Sort = MetricDataSort.TimestampAscending,
        });
        foreach (var row in rows)
        {
            long epoch = new DateTimeOffset(row.Timestamp, TimeSpan.Zero).ToUnixTimeSeconds();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{metricName} {row.MetricValue} {epoch} {row.AnomalyScore}"));
        }

        // </post-processing>
    }

    /// <summary>Follows the results exchange until <paramref name="stop"/>, printing one line per batch and command result.</summary>
    public static async Task FollowResultsAsync(IMessageBus bus, string resultsExchange, string queueName, TextWriter output, CancellationToken stop)
    {
        // <real-time>
        await bus.DeclareFanoutExchangeAsync(resultsExchange);
        await bus.DeclareQueueAsync(queueName);
        await bus.BindQueueAsync(queueName, resultsExchange);

        ValueTask<ConsumeOutcome> Handle(BusMessage message, CancellationToken cancellationToken)
        {
            using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
            var body = json.RootElement;
            if (message.Headers.TryGetValue(ResultsMessages.DataTypeHeader, out var type) && type == ResultsMessages.ModelCommandResultDataType)
            {
                output.WriteLine($"Handling model command result for {body.GetProperty("modelId").GetString()}: "
                    + $"{body.GetProperty("method").GetString()} status {body.GetProperty("status").GetInt32()}");
            }
            else
            {
                var metric = body.GetProperty("metric");
                output.WriteLine($"Handling {body.GetProperty("results").GetArrayLength()} model result(s) for "
                    + $"{metric.GetProperty("uid").GetString()} - {metric.GetProperty("name").GetString()}");
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }

        await using (await bus.ConsumeAsync(queueName, Handle, new ConsumerOptions(Prefetch: 1)))
        {
            await Task.Delay(Timeout.Infinite, stop).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        // </real-time>
    }
}
