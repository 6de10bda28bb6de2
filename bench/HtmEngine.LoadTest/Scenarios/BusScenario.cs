using System.Diagnostics;
using System.Globalization;
using System.Text;
using HtmEngine.Bus;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// RabbitMQ publish throughput with publisher confirms: each message is a metric-data message (htmengine-spec §1.3 a)
/// carrying <c>--batch</c> Graphite lines; <c>--inflight</c> messages are published per
/// <see cref="IMessageBus.PublishToQueueAsync"/> call, which returns once the broker confirmed all of them. The
/// queue is durable and the messages persistent, so a confirm means the broker has written the message. Headline:
/// samples (lines) per second over the measured seconds.
/// </summary>
public sealed class BusScenario : IScenario
{
    /// <inheritdoc />
    public string Name => "bus";

    /// <inheritdoc />
    public string Description => "RabbitMQ publish with confirms of sample batches: samples/s";

    /// <inheritdoc />
    public string Usage => "bus [--seconds 10] [--warmup 2] [--batch 1000] [--inflight 128] [--host localhost] [--port 5672] [--user guest] [--password guest] [--vhost /]";

    /// <inheritdoc />
    public async Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        int seconds = args.GetInt("seconds", 10, 1, 120);
        int warmup = args.GetInt("warmup", 2, 0, 30);
        int batch = args.GetInt("batch", 1000, 1, 100_000);
        int inflight = args.GetInt("inflight", 128, 1, 10_000);
        var options = new RabbitMqBusOptions(
            args.GetString("host", "localhost"),
            args.GetInt("port", 5672, 1, 65535),
            args.GetString("vhost", "/"),
            args.GetString("user", "guest"),
            args.GetString("password", "guest"))
        {
            MaxOutstandingConfirms = Math.Max(inflight, 1),
        };
        args.ThrowIfUnknown();

        var body = BuildBody(batch);
        var messages = new OutgoingMessage[inflight];
        string queue = $"htmengine.loadtest.bus.{Guid.NewGuid():N}";
        await using var bus = await RabbitMqMessageBus.ConnectAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await bus.DeclareQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        output.WriteLine($"bus: {batch} samples ({body.Length} bytes) per message, {inflight} messages per confirmed batch, queue {queue}");
        try
        {
            long sequence = 0;
            async Task<long> PublishForAsync(TimeSpan duration)
            {
                long published = 0;
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
                {
                    for (int i = 0; i < messages.Length; i++)
                    {
                        messages[i] = new OutgoingMessage(body, (sequence++).ToString(CultureInfo.InvariantCulture));
                    }

                    await bus.PublishToQueueAsync(queue, messages, cancellationToken).ConfigureAwait(false);
                    published += messages.Length;
                }

                return published;
            }

            await PublishForAsync(TimeSpan.FromSeconds(warmup)).ConfigureAwait(false);
            await bus.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
            await bus.DeclareQueueAsync(queue, cancellationToken).ConfigureAwait(false);

            var timer = Stopwatch.StartNew();
            long count = await PublishForAsync(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
            double elapsed = timer.Elapsed.TotalSeconds;
            long inQueue = await bus.GetReadyCountAsync(queue, cancellationToken).ConfigureAwait(false);
            double messagesPerSecond = count / elapsed;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bus: {count} messages confirmed in {elapsed:F1} s ({inQueue} in the queue), messages_per_s={messagesPerSecond:F0}, MB_per_s={count * (double)body.Length / elapsed / 1e6:F1}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"samples_per_s={messagesPerSecond * batch:F0}"));
            return 0;
        }
        finally
        {
            await bus.DeleteQueueAsync(queue, CancellationToken.None).ConfigureAwait(false);
        }
    }

    // {"protocol":"plain","data":["<name> <value> <timestamp>", ...]}, the listener -> storer message.
    private static byte[] BuildBody(int samples)
    {
        var text = new StringBuilder("{\"protocol\":\"plain\",\"data\":[");
        for (int i = 0; i < samples; i++)
        {
            text.Append(i == 0 ? "\"" : ",\"")
                .Append(CultureInfo.InvariantCulture, $"loadtest.metric.{i % 1000:D4} {i * 0.5:F1} {1_700_000_000 + i}")
                .Append('"');
        }

        return Encoding.UTF8.GetBytes(text.Append("]}").ToString());
    }
}
