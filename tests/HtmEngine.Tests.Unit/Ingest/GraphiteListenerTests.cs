using System.Net.Sockets;
using System.Text;
using HtmEngine.Ingest;
using static HtmEngine.Tests.Unit.Ingest.ListenerTestSupport;

namespace HtmEngine.Tests.Unit.Ingest;

public class GraphiteListenerTests
{
    [Fact]
    public async Task Many_connections_at_once_lose_nothing_and_keep_per_connection_order()
    {
        var sink = new InMemoryMetricSampleSink(keepSamples: true);
        await using GraphiteListener listener = await StartAsync(sink);
        const int Connections = 40;
        const int PerConnection = 2500;
        await Task.WhenAll(Enumerable.Range(0, Connections).Select(c => SendAndCloseAsync(listener, Lines("conn." + c, PerConnection))));
        await WaitUntilAsync(() => listener.Counters.ConnectionsOpen == 0, "connections closed");
        await listener.StopAsync();

        Assert.Equal(Connections * PerConnection, listener.Counters.LinesAccepted);
        Assert.Equal(0, listener.Counters.LinesRejected);
        Assert.Equal(Connections * PerConnection, listener.Counters.SamplesDelivered);
        Assert.Equal(Connections * PerConnection, sink.SampleCount);
        Assert.Equal(Connections, listener.Counters.ConnectionsTotal);
        Assert.True(listener.Counters.BytesReceived > Connections * PerConnection * 10);
        foreach (IGrouping<string, ReceivedSample> group in sink.Snapshot().GroupBy(s => s.Name))
        {
            Assert.Equal(Enumerable.Range(0, PerConnection).Select(i => (double)i), group.Select(s => s.Value));
            Assert.Equal(Enumerable.Range(0, PerConnection).Select(i => T + i), group.Select(s => s.TimestampSeconds));
        }

        Assert.Equal(Connections, listener.Names.Count);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_line_loses_only_that_line()
    {
        var sink = new InMemoryMetricSampleSink(keepSamples: true);
        await using GraphiteListener listener = await StartAsync(sink);
        await SendAndCloseAsync(listener, Encoding.ASCII.GetBytes("a 1 1700000000\nb 2 17000"));

        // And one that resets the connection in the middle of a line.
        using (Socket reset = await ConnectAsync(listener))
        {
            await SendAllAsync(reset, Encoding.ASCII.GetBytes("c 3 1700000000\nd 4 1700"));

            // A reset may discard data the server has not read yet; make sure the whole line was taken first.
            await WaitUntilAsync(() => listener.Counters.LinesAccepted == 2, "line before the reset");
            reset.LingerState = new LingerOption(true, 0);
            reset.Close();
        }

        await WaitUntilAsync(() => listener.Counters.LinesAccepted == 2 && listener.Counters.ConnectionsOpen == 0, "both clients handled");
        await SendAndCloseAsync(listener, Encoding.ASCII.GetBytes("e 5 1700000000\n"));
        await listener.StopAsync();

        Assert.Equal(["a", "c", "e"], sink.Snapshot().Select(s => s.Name).Order());
        Assert.InRange(listener.Counters.GetLinesRejected(GraphiteRejectReason.Unterminated), 1, 2);
    }

    [Fact]
    public async Task A_one_mebibyte_line_is_skipped_and_the_connection_keeps_working()
    {
        var sink = new InMemoryMetricSampleSink(keepSamples: true);
        await using GraphiteListener listener = await StartAsync(sink);
        using Socket client = await ConnectAsync(listener);
        await SendAllAsync(client, Encoding.ASCII.GetBytes("before 1 1700000000\nhuge "));
        await SendAllAsync(client, Encoding.ASCII.GetBytes(new string('9', 1024 * 1024)));
        await SendAllAsync(client, Encoding.ASCII.GetBytes(" 1700000000\nafter 2 1700000000\n"));
        await WaitUntilAsync(() => listener.Counters.LinesAccepted == 2, "lines around the huge one");

        // Same connection, still open.
        await SendAllAsync(client, Encoding.ASCII.GetBytes("later 3 1700000000\n"));
        await WaitUntilAsync(() => listener.Counters.LinesAccepted == 3, "line after");
        Assert.Equal(1, listener.Counters.GetLinesRejected(GraphiteRejectReason.LineTooLong));
        Assert.Equal(1, listener.Counters.ConnectionsOpen);
        client.Close();
        await listener.StopAsync();
        Assert.Equal(["before", "after", "later"], sink.Snapshot().Select(s => s.Name));
    }

    [Fact]
    public async Task Binary_garbage_is_rejected_and_the_service_survives()
    {
        var sink = new InMemoryMetricSampleSink(keepSamples: true);
        await using GraphiteListener listener = await StartAsync(sink);
        byte[] garbage = new byte[256 * 1024];
        new Random(7).NextBytes(garbage);
        using (Socket client = await ConnectAsync(listener))
        {
            await SendAllAsync(client, garbage);
            await SendAllAsync(client, Encoding.ASCII.GetBytes("\nsurvivor 1 1700000000\n"));
            await WaitUntilAsync(() => listener.Counters.LinesAccepted == 1, "line after garbage");
        }

        await SendAndCloseAsync(listener, Encoding.ASCII.GetBytes("next 2 1700000000\n"));
        await listener.StopAsync();
        Assert.Equal(["survivor", "next"], sink.Snapshot().Select(s => s.Name));
        Assert.True(listener.Counters.LinesRejected > 100);
    }

    [Fact]
    public async Task An_idle_client_neither_blocks_others_nor_shutdown()
    {
        var sink = new InMemoryMetricSampleSink();
        GraphiteListener listener = await StartAsync(sink);
        using Socket idle = await ConnectAsync(listener);
        await SendAndCloseAsync(listener, Lines("busy", 100));
        Assert.Equal(100, listener.Counters.LinesAccepted);
        await WaitUntilAsync(() => listener.Counters.ConnectionsOpen == 1, "only the idle client left");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await listener.DisposeAsync();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), "stop waited for the idle client");
        Assert.Equal(0, listener.Counters.ConnectionsOpen);
        Assert.Equal(100, sink.SampleCount);
    }

    [Fact]
    public async Task Partial_batches_are_flushed_after_the_delay_without_closing()
    {
        var sink = new InMemoryMetricSampleSink();
        await using GraphiteListener listener = await StartAsync(sink, o =>
        {
            o.MaxBatchSize = 10;
            o.FlushDelay = TimeSpan.FromMilliseconds(50);
        });
        using Socket client = await ConnectAsync(listener);
        await SendAllAsync(client, Lines("m", 25));
        await WaitUntilAsync(() => sink.SampleCount == 25, "flush by size then by delay");
        Assert.Equal(3, sink.BatchCount);
    }

    [Fact]
    public async Task Shutdown_with_data_in_flight_delivers_everything_accepted()
    {
        var sink = new InMemoryMetricSampleSink();
        GraphiteListener listener = await StartAsync(sink);
        using var stopSending = new CancellationTokenSource();
        byte[] payload = Lines("flight", 5000);
        Task[] senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            try
            {
                using Socket s = await ConnectAsync(listener);
                while (!stopSending.IsCancellationRequested)
                {
                    await SendAllAsync(s, payload);
                }
            }
            catch (SocketException)
            {
                // The listener went away mid-send: expected.
            }
            catch (ObjectDisposedException)
            {
            }
        })).ToArray();

        await WaitUntilAsync(() => listener.Counters.LinesAccepted > 50_000, "traffic flowing");
        await listener.StopAsync();
        await stopSending.CancelAsync();
        await Task.WhenAll(senders);

        Assert.Equal(0, listener.Counters.SamplesDropped);
        Assert.Equal(listener.Counters.LinesAccepted, listener.Counters.SamplesDelivered);
        Assert.Equal(listener.Counters.LinesAccepted, sink.SampleCount);
        Assert.Equal(0, listener.Counters.ConnectionsOpen);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_stalled_sink_slows_the_sockets_instead_of_buffering()
    {
        var sink = new InMemoryMetricSampleSink();
        sink.Pause();
        await using GraphiteListener listener = await StartAsync(sink, o =>
        {
            o.QueueCapacity = 2;
            o.ChunkSize = 100;
            o.MaxBatchSize = 100;
            o.MaxBufferedBytesPerConnection = 64 * 1024;
        });
        const int Total = 1_000_000;
        byte[] data = Lines("bp", Total);
        Task send = SendAndCloseAsync(listener, data);
        // On a loaded machine the first line can take a while to arrive; wait for traffic, then
        // give the listener ample time to overfill if backpressure were broken.
        await WaitUntilAsync(() => listener.Counters.LinesAccepted > 0, "first lines accepted", 30_000);
        await Task.Delay(1000);

        // Held: one batch at the sink, two queued chunks, one chunk being filled.
        Assert.InRange(listener.Counters.LinesAccepted, 1, 400);
        Assert.False(send.IsCompleted, "the client could write " + data.Length + " bytes into a stalled listener");

        sink.Resume();
        await send.WaitAsync(TimeSpan.FromSeconds(20));
        await listener.StopAsync();
        Assert.Equal(Total, listener.Counters.LinesAccepted);
        Assert.Equal(Total, sink.SampleCount);
    }

    [Fact]
    public async Task The_connection_limit_holds_new_clients_until_a_slot_frees()
    {
        var sink = new InMemoryMetricSampleSink();
        await using GraphiteListener listener = await StartAsync(sink, o => o.MaxConnections = 2);
        Socket first = await ConnectAsync(listener);
        using Socket second = await ConnectAsync(listener);
        await WaitUntilAsync(() => listener.Counters.ConnectionsOpen == 2, "two open");
        using Socket third = await ConnectAsync(listener); // completes in the backlog
        await SendAllAsync(third, Lines("third", 1));
        await Task.Delay(300);
        Assert.Equal(0, listener.Counters.LinesAccepted);

        first.Dispose();
        await WaitUntilAsync(() => listener.Counters.LinesAccepted == 1, "third served after a slot freed");
        Assert.Equal(3, listener.Counters.ConnectionsTotal);
    }

    [Fact]
    public async Task Udp_datagrams_are_parsed_when_enabled()
    {
        var sink = new InMemoryMetricSampleSink(keepSamples: true);
        await using GraphiteListener listener = await StartAsync(sink, o => o.EnableUdp = true);
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await udp.SendToAsync(Encoding.ASCII.GetBytes("u.a 1 1700000000\nu.b 2 1700000000"), SocketFlags.None, Udp(listener));
        await udp.SendToAsync(Encoding.ASCII.GetBytes("bad\n"), SocketFlags.None, Udp(listener));
        await WaitUntilAsync(() => sink.SampleCount == 2 && listener.Counters.LinesRejected == 1, "datagrams parsed");
        Assert.Equal(["u.a", "u.b"], sink.Snapshot().Select(s => s.Name));
        Assert.Equal(2, listener.Counters.DatagramsReceived);
    }

    [Fact]
    public async Task Udp_is_off_by_default()
    {
        await using GraphiteListener listener = await StartAsync(new InMemoryMetricSampleSink());
        Assert.Null(listener.UdpLocalEndPoint);
        Assert.Equal(System.Net.IPAddress.Loopback, listener.LocalEndPoint!.Address);
    }

    [Fact]
    public async Task Rejections_are_counted_per_reason_and_logged_at_a_bounded_rate()
    {
        var logger = new CapturingLogger();
        await using GraphiteListener listener = await StartAsync(new InMemoryMetricSampleSink(), o => o.RejectionLogInterval = TimeSpan.FromSeconds(30), logger);
        var text = new StringBuilder();
        for (int i = 0; i < 1000; i++)
        {
            text.Append("a nan 1700000000\n").Append("b 1\n").Append("ok 1 1700000000\n");
        }

        await SendAndCloseAsync(listener, Encoding.ASCII.GetBytes(text.ToString()));
        Assert.Equal(1000, listener.Counters.GetLinesRejected(GraphiteRejectReason.NotFinite));
        Assert.Equal(1000, listener.Counters.GetLinesRejected(GraphiteRejectReason.TooFewFields));
        Assert.Equal(1000, listener.Counters.LinesAccepted);
        Assert.Equal(2, logger.Entries.Count(e => e.Id.Id == 1002));
        await listener.StopAsync();

        // At stop, the counts not yet reported are logged once per reason.
        Assert.Equal(4, logger.Entries.Count(e => e.Id.Id == 1002));
        Assert.Contains(logger.Entries, e => e.Id.Id == 1002 && e.Message.Contains("999 Graphite line(s) rejected as not_finite", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_sink_drops_batches_but_the_listener_keeps_accepting()
    {
        var sink = new FailingSink();
        await using GraphiteListener listener = await StartAsync(sink);
        await SendAndCloseAsync(listener, Lines("x", 10));
        await SendAndCloseAsync(listener, Lines("y", 10));
        await listener.StopAsync();
        Assert.Equal(20, listener.Counters.LinesAccepted);
        Assert.Equal(20, listener.Counters.SamplesDropped);
        Assert.True(sink.Calls >= 1);
    }
    [Fact]
    public async Task New_names_beyond_the_name_table_limit_are_rejected()
    {
        var sink = new InMemoryMetricSampleSink(keepSamples: true);
        await using GraphiteListener listener = await StartAsync(sink, o => o.MaxNames = 2);
        await SendAndCloseAsync(listener, Encoding.ASCII.GetBytes("a 1 1700000000\nb 2 1700000000\nc 3 1700000000\na 4 1700000000\n"));
        await listener.StopAsync();
        Assert.Equal(["a", "b", "a"], sink.Snapshot().Select(s => s.Name));
        Assert.Equal(1, listener.Counters.GetLinesRejected(GraphiteRejectReason.NameTableFull));
    }

    [Theory]
    [InlineData(nameof(GraphiteListenerOptions.Port))]
    [InlineData(nameof(GraphiteListenerOptions.MaxConnections))]
    [InlineData(nameof(GraphiteListenerOptions.MaxNameLength))]
    [InlineData(nameof(GraphiteListenerOptions.MaxBufferedBytesPerConnection))]
    [InlineData(nameof(GraphiteListenerOptions.FlushDelay))]
    public void Invalid_options_are_refused(string setting)
    {
        var options = new GraphiteListenerOptions();
        switch (setting)
        {
            case nameof(GraphiteListenerOptions.Port): options.Port = 70000; break;
            case nameof(GraphiteListenerOptions.MaxConnections): options.MaxConnections = 0; break;
            case nameof(GraphiteListenerOptions.MaxNameLength): options.MaxNameLength = options.MaxLineLength + 1; break;
            case nameof(GraphiteListenerOptions.MaxBufferedBytesPerConnection): options.MaxBufferedBytesPerConnection = options.MaxLineLength; break;
            default: options.FlushDelay = TimeSpan.Zero; break;
        }

        var ex = Assert.Throws<ArgumentException>(() => new GraphiteListener(options, new InMemoryMetricSampleSink()));
        Assert.Equal(setting, ex.ParamName);
    }
}
