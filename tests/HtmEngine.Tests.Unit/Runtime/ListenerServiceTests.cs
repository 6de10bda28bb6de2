using System.Collections.Concurrent;
using System.Net.Sockets;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Listener;
using HtmEngine.Server.Configuration;
using HtmEngine.Tests.Unit.Configuration;
using HtmEngine.Tests.Unit.Ingest;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Tests.Unit.Runtime;

public sealed class ListenerServiceTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private static GraphiteListenerOptions Options(int maxBatchSize = 1000) => new()
    {
        Port = 0,
        FlushDelay = TimeSpan.FromMilliseconds(5),
        ShutdownTimeout = TimeSpan.FromSeconds(20),
        MaxBatchSize = maxBatchSize,
    };

    private static string NewQueue() => "htmengine.test.listener." + Guid.NewGuid().ToString("N");

    /// <summary>Consumes every message of <paramref name="queue"/>, decodes it as the storer will, and keeps the samples in order.</summary>
    private static async Task<(IBusSubscription Subscription, ConcurrentQueue<ReceivedSample> Samples, ConcurrentQueue<BusMessage> Messages)> CollectAsync(IMessageBus bus, string queue)
    {
        var samples = new ConcurrentQueue<ReceivedSample>();
        var messages = new ConcurrentQueue<BusMessage>();
        IBusSubscription subscription = await bus.ConsumeAsync(
            queue,
            (message, _) =>
            {
                messages.Enqueue(message);
                DecodedMetricMessage decoded = MetricMessageDecoder.Decode(message.ContentType, message.Body.Span, nowSeconds: 0);
                Assert.Empty(decoded.Rejected);
                foreach (ReceivedSample sample in decoded.Samples)
                {
                    samples.Enqueue(sample);
                }

                return ValueTask.FromResult(ConsumeOutcome.Ack);
            },
            new ConsumerOptions(Prefetch: 16));
        return (subscription, samples, messages);
    }

    [Fact]
    public async Task Tcp_lines_arrive_on_the_queue_as_sample_batches_in_connection_order()
    {
        await using var bus = new InProcessMessageBus();
        string queue = NewQueue();
        await using var service = new ListenerService(Options(maxBatchSize: 100), bus, queue, NullLoggerFactory.Instance);
        Assert.Equal("listener", service.Name);
        await service.StartAsync(CancellationToken.None);
        var (subscription, samples, messages) = await CollectAsync(bus, queue);
        await using (subscription)
        {
            await ListenerTestSupport.SendAndCloseAsync(service.Listener, ListenerTestSupport.Lines("a.b", 1000));
            await ListenerTestSupport.WaitUntilAsync(() => samples.Count >= 1000, "1000 samples on the queue", 30_000);
        }

        await service.StopAsync(CancellationToken.None);
        ReceivedSample[] got = [.. samples];
        Assert.Equal(1000, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            Assert.Equal(new ReceivedSample("a.b", i, ListenerTestSupport.T + i), got[i]);
        }

        Assert.All(messages, m => Assert.Equal(SampleBatchCodec.ContentType, m.ContentType));
        Assert.All(messages, m => Assert.False(string.IsNullOrEmpty(m.MessageId)));
        Assert.True(messages.Count >= 10, $"batches of at most 100 samples, got {messages.Count} messages");
        Assert.Equal(1000, service.Sink.SamplesPublished);
        Assert.Equal(messages.Count, service.Sink.BatchesPublished);
    }

    [Fact]
    public async Task Stop_publishes_everything_accepted_from_many_connections()
    {
        await using var bus = new InProcessMessageBus();
        string queue = NewQueue();
        var service = new ListenerService(Options(), bus, queue, NullLoggerFactory.Instance);
        await service.StartAsync(CancellationToken.None);

        // Eight clients still sending while the stop begins: whatever the listener accepted must reach the queue.
        const int Clients = 8;
        const int PerClient = 20_000;
        var sockets = new Socket[Clients];
        var sends = new Task[Clients];
        for (int c = 0; c < Clients; c++)
        {
            sockets[c] = await ListenerTestSupport.ConnectAsync(service.Listener);
            Socket socket = sockets[c];
            byte[] data = ListenerTestSupport.Lines("m" + c, PerClient);
            sends[c] = Task.Run(async () =>
            {
                try
                {
                    await ListenerTestSupport.SendAllAsync(socket, data);
                }
                catch (SocketException)
                {
                    // The stop closed the connection mid-stream.
                }
            });
        }

        await ListenerTestSupport.WaitUntilAsync(() => service.Counters.LinesAccepted > 1000, "the first lines accepted");
        await service.StopAsync(CancellationToken.None);
        await Task.WhenAll(sends).WaitAsync(s_wait);
        foreach (Socket socket in sockets)
        {
            socket.Dispose();
        }

        long accepted = service.Counters.LinesAccepted;
        Assert.Equal(0, service.Counters.SamplesDropped);
        Assert.Equal(accepted, service.Sink.SamplesPublished);
        Assert.Equal(service.Sink.BatchesPublished, await bus.GetReadyCountAsync(queue));

        var (subscription, samples, _) = await CollectAsync(bus, queue);
        await using (subscription)
        {
            await ListenerTestSupport.WaitUntilAsync(() => samples.Count >= accepted, $"{accepted} samples on the queue", 30_000);
        }

        Assert.Equal(accepted, samples.Count);

        // Per connection the samples are a prefix of what was sent, in order.
        var next = new Dictionary<string, int>();
        foreach (ReceivedSample sample in samples)
        {
            int expected = next.GetValueOrDefault(sample.Name);
            Assert.Equal(expected, (int)sample.Value);
            next[sample.Name] = expected + 1;
        }

        await service.DisposeAsync();
    }

    [Fact]
    public async Task A_full_queue_holds_the_sockets_instead_of_buffering_and_nothing_is_lost()
    {
        // The queue takes two messages; with no consumer the sink's publish waits, the listener's small internal
        // queue fills, and the connection stops being read.
        await using var bus = new InProcessMessageBus(queueCapacity: 2);
        string queue = NewQueue();
        GraphiteListenerOptions options = Options(maxBatchSize: 100);
        options.ChunkSize = 100;
        options.QueueCapacity = 2;
        options.MaxBufferedBytesPerConnection = 64 * 1024;
        await using var service = new ListenerService(options, bus, queue, NullLoggerFactory.Instance);
        await service.StartAsync(CancellationToken.None);

        // More bytes (~30 MB) than the loopback socket buffers of both ends can hold.
        const int Lines = 1_000_000;
        using Socket socket = await ListenerTestSupport.ConnectAsync(service.Listener);
        socket.SendBufferSize = 16 * 1024;
        Task send = ListenerTestSupport.SendAllAsync(socket, ListenerTestSupport.Lines("bp", Lines));
        await ListenerTestSupport.WaitUntilAsync(() => service.Sink.BatchesPublished >= 2, "the queue filled");

        // Held, not buffered: the bounded stages stay bounded however long we look.
        for (int i = 0; i < 20; i++)
        {
            Assert.True(await bus.GetReadyCountAsync(queue) <= 2);
            Assert.True(service.Counters.LinesAccepted - service.Sink.SamplesPublished <= 100 + (2 * 100) + 100 + 2_000,
                $"accepted {service.Counters.LinesAccepted}, published {service.Sink.SamplesPublished}");
            await Task.Delay(10);
        }

        Assert.False(send.IsCompleted, "the client could write all its lines into a stalled listener");

        var (subscription, samples, _) = await CollectAsync(bus, queue);
        await using (subscription)
        {
            await send.WaitAsync(s_wait);
            socket.Shutdown(SocketShutdown.Send);
            await ListenerTestSupport.WaitUntilAsync(() => samples.Count >= Lines, $"{Lines} samples on the queue", 60_000);
        }

        Assert.Equal(Lines, samples.Count);
        Assert.Equal(0, service.Counters.SamplesDropped);
    }

    [Fact]
    public async Task The_sink_declares_a_missing_queue_and_publishes_again()
    {
        await using var bus = new InProcessMessageBus();
        string queue = NewQueue();
        var sink = new BusMetricSampleSink(bus, queue);
        var names = new MetricNameTable();
        var batch = new MetricSampleBatch(names, 4);
        int id = names.GetOrAdd("x.y"u8);
        batch.TryAdd(new MetricSample(id, 1.5, 1_700_000_000));
        await sink.WriteAsync(batch, CancellationToken.None);

        Assert.Equal(1, await bus.GetReadyCountAsync(queue));
        Assert.Equal(1, sink.BatchesPublished);
        Assert.Equal(1, sink.PublishFailures);
    }

    [Fact]
    public async Task The_sink_retries_a_failing_bus_with_the_same_message_id_until_it_confirms()
    {
        await using var inner = new InProcessMessageBus();
        string queue = NewQueue();
        await inner.DeclareQueueAsync(queue);
        var bus = new FailingBus(inner, failures: 3);
        var sink = new BusMetricSampleSink(bus, queue) { MaxRetryDelay = TimeSpan.FromMilliseconds(200) };
        var names = new MetricNameTable();
        var batch = new MetricSampleBatch(names, 4);
        int id = names.GetOrAdd("x.y"u8);
        batch.TryAdd(new MetricSample(id, 2.5, 1_700_000_001));
        await sink.WriteAsync(batch, CancellationToken.None).AsTask().WaitAsync(s_wait);

        Assert.Equal(4, bus.Attempts.Count);
        Assert.Single(bus.Attempts.Distinct());
        Assert.Equal(3, sink.PublishFailures);
        Assert.Equal(1, await inner.GetReadyCountAsync(queue));
    }

    [Fact]
    public async Task The_sink_gives_up_only_when_cancelled()
    {
        await using var inner = new InProcessMessageBus();
        string queue = NewQueue();
        var bus = new FailingBus(inner, failures: int.MaxValue);
        var sink = new BusMetricSampleSink(bus, queue) { MaxRetryDelay = TimeSpan.FromMilliseconds(20) };
        var names = new MetricNameTable();
        var batch = new MetricSampleBatch(names, 4);
        int id = names.GetOrAdd("x.y"u8);
        batch.TryAdd(new MetricSample(id, 2.5, 1_700_000_001));
        using var cts = new CancellationTokenSource();
        ValueTask write = sink.WriteAsync(batch, cts.Token);
        await ListenerTestSupport.WaitUntilAsync(() => bus.Attempts.Count >= 3, "three attempts");
        Assert.False(write.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await write);
        Assert.Equal(0, sink.BatchesPublished);
    }

    [Fact]
    public void Metric_listener_section_binds_onto_the_listener_options()
    {
        var options = ConfigLoader.Load(TempConfig.ShippedConf, new Dictionary<string, string>
        {
            ["HOME"] = "/home/tester",
            ["_NTA_UTILS_CONFIG__APPLICATION__METRIC_LISTENER__MAX_CONNECTIONS"] = "7",
            ["_NTA_UTILS_CONFIG__APPLICATION__METRIC_LISTENER__UDP"] = "true",
            ["_NTA_UTILS_CONFIG__APPLICATION__METRIC_LISTENER__MAX_BATCH_SIZE"] = "250",
            ["_NTA_UTILS_CONFIG__APPLICATION__METRIC_LISTENER__FLUSH_DELAY_MS"] = "3",
            ["_NTA_UTILS_CONFIG__APPLICATION__METRIC_LISTENER__MAX_LINE_LENGTH"] = "128",
        });
        GraphiteListenerOptions listener = options.ToGraphiteListenerOptions();
        Assert.Equal(System.Net.IPAddress.Loopback, listener.BindAddress);
        Assert.Equal(2003, listener.Port);
        Assert.Equal(7, listener.MaxConnections);
        Assert.True(listener.EnableUdp);
        Assert.Equal(250, listener.MaxBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(3), listener.FlushDelay);
        Assert.Equal(128, listener.MaxLineLength);
        Assert.True(listener.MaxNameLength <= 128);
    }

    /// <summary>Fails the first publishes with a transient-looking error, then delegates.</summary>
    private sealed class FailingBus(IMessageBus inner, int failures) : ForwardingBus(inner)
    {
        private int _left = failures;

        public ConcurrentQueue<string?> Attempts { get; } = new();

        public override ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
        {
            Attempts.Enqueue(messages[0].MessageId);
            if (Interlocked.Decrement(ref _left) >= 0)
            {
                throw new IOException("connection reset (simulated)");
            }

            return Inner.PublishToQueueAsync(queue, messages, cancellationToken);
        }

    }
}
