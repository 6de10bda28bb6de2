using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Listener;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Tests.Integration.Listener;

/// <summary>The listener service against the real RabbitMQ: TCP lines end up on the metric data queue, decodable by the storer.</summary>
public sealed class ListenerServiceRabbitMqTests : IRequiresRabbitMq
{
    private const long T = 1_700_000_000;

    [ServerFact]
    public async Task Lines_from_several_connections_reach_the_queue_and_stop_loses_nothing()
    {
        await using IMessageBus bus = await RabbitMqMessageBus.ConnectAsync(TestServers.RabbitMqOptions());
        string queue = "htmengine.test.listener." + Guid.NewGuid().ToString("N");
        var options = new GraphiteListenerOptions { Port = 0, MaxBatchSize = 500, FlushDelay = TimeSpan.FromMilliseconds(5), ShutdownTimeout = TimeSpan.FromSeconds(60) };
        var service = new ListenerService(options, bus, queue, NullLoggerFactory.Instance);
        try
        {
            await service.StartAsync(CancellationToken.None);
            const int Clients = 4;
            const int PerClient = 25_000;
            var sends = new Task[Clients];
            for (int c = 0; c < Clients; c++)
            {
                byte[] data = Lines("rmq" + c, PerClient);
                sends[c] = Task.Run(async () =>
                {
                    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(service.LocalEndPoint!);
                    for (var rest = new ReadOnlyMemory<byte>(data); !rest.IsEmpty;)
                    {
                        rest = rest[await socket.SendAsync(rest, SocketFlags.None)..];
                    }

                    socket.Shutdown(SocketShutdown.Send);
                    while (await socket.ReceiveAsync(new byte[16], SocketFlags.None) > 0)
                    {
                    }
                });
            }

            await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(120));

            // Stop right after the clients finished: what was accepted but not yet published must be flushed.
            await service.StopAsync(CancellationToken.None);
            Assert.Equal(Clients * PerClient, service.Counters.LinesAccepted);
            Assert.Equal(0, service.Counters.SamplesDropped);
            Assert.Equal(Clients * PerClient, service.Sink.SamplesPublished);

            var samples = new ConcurrentQueue<ReceivedSample>();
            var contentTypes = new ConcurrentDictionary<string, int>();
            await using (IBusSubscription subscription = await bus.ConsumeAsync(
                queue,
                (message, _) =>
                {
                    contentTypes.AddOrUpdate(message.ContentType ?? "(none)", 1, (_, n) => n + 1);
                    foreach (ReceivedSample sample in MetricMessageDecoder.Decode(message.ContentType, message.Body.Span, 0).Samples)
                    {
                        samples.Enqueue(sample);
                    }

                    return ValueTask.FromResult(ConsumeOutcome.Ack);
                },
                new ConsumerOptions(Prefetch: 64)))
            {
                var watch = Stopwatch.StartNew();
                while (samples.Count < Clients * PerClient && watch.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(20);
                }
            }

            Assert.Equal(Clients * PerClient, samples.Count);
            Assert.Equal([SampleBatchCodec.ContentType], contentTypes.Keys);
            var next = new Dictionary<string, int>();
            foreach (ReceivedSample sample in samples)
            {
                int expected = next.GetValueOrDefault(sample.Name);
                Assert.Equal(expected, (int)sample.Value);
                Assert.Equal(T + expected, sample.TimestampSeconds);
                next[sample.Name] = expected + 1;
            }

            Assert.Equal(Clients, next.Count);
        }
        finally
        {
            await service.DisposeAsync();
            await bus.DeleteQueueAsync(queue);
        }
    }

    private static byte[] Lines(string name, int count)
    {
        var builder = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            builder.Append(name).Append(' ').Append(i).Append(' ').Append(T + i).Append('\n');
        }

        return Encoding.ASCII.GetBytes(builder.ToString());
    }
}
