using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using HtmEngine.Bus;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace HtmEngine.Tests.Integration.Bus;

/// <summary>
/// The results subscriber of the seed README, transcribed to C# with the plain RabbitMQ client (it knows nothing of our
/// bus): declare the fanout exchange durable, declare its own durable queue, bind it with routing key "", prefetch 1,
/// inflate zlib, parse JSON, branch on the <c>dataType</c> header, ack each message. It must understand what our
/// publisher sends.
/// </summary>
public sealed class ResultsSubscriberTests
{
    [ServerFact(TestServer.RabbitMq)]
    public async Task Seed_readme_subscriber_receives_inference_batches_and_command_results()
    {
        var settings = TestServers.Options.Bus;
        string exchange = $"htmengine.test.model.results.{Guid.NewGuid():N}";
        string queueName = $"APPLICATION_NAME_results.{Guid.NewGuid():N}";

        // --- the subscriber, as in the README ---
        var factory = new ConnectionFactory
        {
            HostName = settings.Host,
            Port = settings.Port,
            VirtualHost = settings.VirtualHost,
            UserName = settings.User,
            Password = settings.Password,
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(0, 1, false);
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
        var declared = await channel.QueueDeclareAsync(queueName, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(declared.QueueName, exchange, routingKey: "");

        var inference = new ConcurrentQueue<JsonDocument>();
        var commands = new ConcurrentQueue<JsonDocument>();
        var unexpected = new ConcurrentQueue<string>();
        var cancelled = new TaskCompletionSource();
        var all = new TaskCompletionSource();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, ea) =>
        {
            string? dataType = ea.BasicProperties.Headers is { } headers && headers.TryGetValue("dataType", out var v) && v is byte[] b
                ? Encoding.UTF8.GetString(b)
                : null;
            var json = JsonDocument.Parse(InflateLikePython(ea.Body.ToArray()));
            if (string.IsNullOrEmpty(dataType))
            {
                inference.Enqueue(json);
            }
            else if (dataType == "model-cmd-result")
            {
                commands.Enqueue(json);
            }
            else
            {
                unexpected.Enqueue(dataType);
            }

            await channel.BasicAckAsync(ea.DeliveryTag, multiple: false);
            if (inference.Count + commands.Count == 3)
            {
                all.TrySetResult();
            }
        };
        consumer.UnregisteredAsync += (_, _) =>
        {
            cancelled.TrySetResult();
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(declared.QueueName, autoAck: false, consumer);

        try
        {
            // --- our publisher ---
            await using (var bus = await RabbitMqMessageBus.ConnectAsync(RabbitMqBusContractTests.Options))
            {
                await bus.DeclareFanoutExchangeAsync(exchange);
                var metric = new ResultsMetric("uid-1", "cpu.load", null, "host-a", null, "custom", "{\"metric\":\"cpu.load\",\"resource\":\"host-a\"}");
                await bus.PublishToExchangeAsync(exchange,
                [
                    ResultsMessages.CommandResult(new ResultsCommand("defineModel", "uid-1", "cmd-1", 0, null,
                        new ResultsModelInfo("cpu.load", "host-a", "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"cpu.load\"}}"))),
                    ResultsMessages.InferenceBatch(metric,
                    [
                        new ResultsRow(1, 1386201600, 5.0, 0.25, 0.5, new Dictionary<int, double> { [1] = 42.0 }),
                        new ResultsRow(2, 1386201900, 6.5, 0.0, 0.1, null),
                    ]),
                    ResultsMessages.CommandResult(new ResultsCommand("deleteModel", "uid-1", "cmd-2", 0, null, null)),
                ]);
            }

            await all.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Empty(unexpected);

            var batch = Assert.Single(inference).RootElement;
            Assert.Equal("uid-1", batch.GetProperty("metric").GetProperty("uid").GetString());
            Assert.Equal("cpu.load", batch.GetProperty("metric").GetProperty("name").GetString());
            Assert.Equal("host-a", batch.GetProperty("metric").GetProperty("resource").GetString());
            Assert.Equal(JsonValueKind.Null, batch.GetProperty("metric").GetProperty("description").ValueKind);
            Assert.Equal("custom", batch.GetProperty("metric").GetProperty("datasource").GetString());
            Assert.Equal("cpu.load", batch.GetProperty("metric").GetProperty("spec").GetProperty("metric").GetString());
            var rows = batch.GetProperty("results").EnumerateArray().ToArray();
            Assert.Equal(2, rows.Length);
            Assert.Equal(1, rows[0].GetProperty("rowid").GetInt64());
            Assert.Equal(1386201600.0, rows[0].GetProperty("ts").GetDouble());
            Assert.Equal(5.0, rows[0].GetProperty("value").GetDouble());
            Assert.Equal(0.25, rows[0].GetProperty("rawAnomaly").GetDouble());
            Assert.Equal(0.5, rows[0].GetProperty("anomaly").GetDouble());
            Assert.Equal(42.0, rows[0].GetProperty("multiStepBestPredictions").GetProperty("1").GetDouble());
            Assert.Equal(JsonValueKind.Null, rows[1].GetProperty("multiStepBestPredictions").ValueKind);
            Assert.False(rows[0].TryGetProperty("display_value", out _));

            var results = commands.Select(d => d.RootElement).ToArray();
            Assert.Equal(["defineModel", "deleteModel"], results.Select(r => r.GetProperty("method").GetString()));
            Assert.All(results, r => Assert.Equal(0, r.GetProperty("status").GetInt32()));
            Assert.All(results, r => Assert.Equal("uid-1", r.GetProperty("modelId").GetString()));
            Assert.Equal(JsonValueKind.Null, results[0].GetProperty("errorMessage").ValueKind);
            var info = results[0].GetProperty("modelInfo");
            Assert.Equal("cpu.load", info.GetProperty("metricName").GetString());
            Assert.Equal("host-a", info.GetProperty("resource").GetString());
            Assert.Equal("custom", info.GetProperty("modelSpec").GetProperty("datasource").GetString());
            Assert.False(results[1].TryGetProperty("modelInfo", out _));
            Assert.False(cancelled.Task.IsCompleted);
        }
        finally
        {
            await channel.QueueDeleteAsync(queueName);
            await channel.ExchangeDeleteAsync(exchange);
        }
    }

    // Python's zlib.decompress: RFC 1950 framing (2-byte header, Adler-32 trailer), nothing else.
    private static byte[] InflateLikePython(byte[] body)
    {
        Assert.Equal(0x78, body[0]);
        Assert.Equal(0, ((body[0] << 8) | body[1]) % 31);
        using var zlib = new ZLibStream(new MemoryStream(body), CompressionMode.Decompress);
        using var output = new MemoryStream();
        zlib.CopyTo(output);
        return output.ToArray();
    }
}
