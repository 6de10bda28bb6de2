using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Listener;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// Graphite ingest throughput: the listener service runs in-process and hands its batches to the in-process bus
/// (<c>--sink bus</c>, the default: <see cref="ListenerService"/>, one confirmed message per batch, drained by a
/// consumer that acknowledges them) or to the in-memory sink (<c>--sink memory</c>); N loopback connections stream
/// pre-generated ~48-byte lines, and every second the listener's own accepted-line counter is sampled. The headline
/// (last line) is the median of the per-second rates after a warm-up (default 5 s: under tiered compilation the
/// parser starts in unoptimised code, and on a busy 2-core box the optimising JIT can take seconds to catch up). With <c>--relay</c> the same load
/// goes to a carbon-c-relay child process (<c>match * send to blackhole</c>) and its own <c>metricsReceived</c>
/// statistic, submitted every second to an in-process listener, is reported instead.
/// </summary>
public sealed class GraphiteScenario : IScenario
{
    private const int MaxTotalSeconds = 30;

    /// <inheritdoc />
    public string Name => "graphite";

    /// <inheritdoc />
    public string Description => "Graphite TCP listener: accepted lines/s (listener's own counter)";

    /// <inheritdoc />
    public string Usage => "graphite [--connections 4] [--seconds 10] [--warmup 5] [--names 1000] [--sink bus|memory] [--relay [--relay-path /usr/bin/carbon-c-relay]]  (warm-up + seconds <= 30)";

    /// <inheritdoc />
    public async Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        int connections = args.GetInt("connections", 4, 1, 256);
        int seconds = args.GetInt("seconds", 10, 1, MaxTotalSeconds);
        int warmup = args.GetInt("warmup", 5, 0, 10);
        if (warmup + seconds > MaxTotalSeconds)
        {
            throw new ArgumentException($"--warmup plus --seconds must not exceed {MaxTotalSeconds}");
        }

        int names = args.GetInt("names", 1000, 1, 1_000_000);
        string sinkKind = args.GetString("sink", "bus");
        if (sinkKind is not ("bus" or "memory"))
        {
            throw new ArgumentException("--sink must be bus or memory");
        }

        bool relay = args.GetFlag("relay");
        string relayPath = args.GetString("relay-path", "/usr/bin/carbon-c-relay");
        args.ThrowIfUnknown();

        output.WriteLine($"scenario=graphite target={(relay ? "carbon-c-relay" : "HtmEngine.Ingest sink=" + sinkKind)} connections={connections} seconds={seconds} warmup={warmup} names={names} cores={Environment.ProcessorCount}");
        byte[][] payloads = BuildPayloads(connections, names);
        output.WriteLine($"payload: {payloads[0].Length / (1024 * 1024)} MiB per connection, {AverageLineLength(payloads[0]):F1} bytes per line");

        List<double> rates = relay
            ? await RunRelayAsync(relayPath, payloads, warmup, seconds, output, cancellationToken).ConfigureAwait(false)
            : await RunListenerAsync(payloads, warmup, seconds, sinkKind == "bus", output, cancellationToken).ConfigureAwait(false);
        if (rates.Count == 0)
        {
            output.WriteLine("no samples were taken");
            return 1;
        }

        rates.Sort();
        double median = rates.Count % 2 == 1 ? rates[rates.Count / 2] : (rates[(rates.Count / 2) - 1] + rates[rates.Count / 2]) / 2;
        output.WriteLine($"per-second rates: min={rates[0]:F0} median={median:F0} max={rates[^1]:F0} over {rates.Count} s");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accepted_lines_per_s={median:F0}"));
        return 0;
    }

    private static async Task<List<double>> RunListenerAsync(byte[][] payloads, int warmup, int seconds, bool useBus, TextWriter output, CancellationToken cancellationToken)
    {
        var options = new GraphiteListenerOptions { Port = 0, BindAddress = IPAddress.Loopback };
        InMemoryMetricSampleSink? memorySink = null;
        InProcessMessageBus? bus = null;
        ListenerService? service = null;
        IBusSubscription? drain = null;
        long drained = 0;
        GraphiteListener listener;
        if (useBus)
        {
            const string Queue = "loadtest.metric.custom.data";
            bus = new InProcessMessageBus();
            service = new ListenerService(options, bus, Queue, NullLoggerFactory.Instance);
            await service.StartAsync(cancellationToken).ConfigureAwait(false);
            drain = await bus.ConsumeAsync(
                Queue,
                (message, _) =>
                {
                    // The sample count is the second header word; the storer's decode is not part of this measurement.
                    Interlocked.Add(ref drained, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(message.Body.Span[8..]));
                    return ValueTask.FromResult(ConsumeOutcome.Ack);
                },
                new ConsumerOptions(Prefetch: 64),
                cancellationToken).ConfigureAwait(false);
            listener = service.Listener;
        }
        else
        {
            memorySink = new InMemoryMetricSampleSink();
            listener = new GraphiteListener(options, memorySink);
            await listener.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        var rates = new List<double>();
        try
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task[] clients = StartClients(listener.LocalEndPoint!, payloads, stop.Token);
            using Process self = Process.GetCurrentProcess();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            long acceptedBefore = listener.Counters.LinesAccepted;
            await SampleAsync(
                () => listener.Counters.LinesAccepted,
                () =>
                {
                    self.Refresh();
                    return self.TotalProcessorTime;
                },
                warmup,
                seconds,
                rates,
                output,
                "cpu(listener+generator)",
                cancellationToken).ConfigureAwait(false);
            long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
            long accepted = listener.Counters.LinesAccepted - acceptedBefore;
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(clients).ConfigureAwait(false);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"managed allocation while streaming (whole process, generator included): {allocated / 1024.0 / 1024.0:F1} MiB for {accepted} lines = {(accepted == 0 ? 0 : allocated / (double)accepted):F3} B/line"));
        }
        finally
        {
            if (service is not null)
            {
                await service.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await service.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }
        }

        GraphiteListenerCounters c = listener.Counters;
        if (drain is not null)
        {
            // Everything confirmed on the queue is drained before the numbers are printed.
            var watch = Stopwatch.StartNew();
            while (Interlocked.Read(ref drained) < c.SamplesDelivered && watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }

            await drain.DisposeAsync().ConfigureAwait(false);
            await bus!.DisposeAsync().ConfigureAwait(false);
        }

        string sinkCount = memorySink is not null ? memorySink.SampleCount.ToString(CultureInfo.InvariantCulture) : $"{Interlocked.Read(ref drained)} (from the queue)";
        output.WriteLine($"listener: accepted={c.LinesAccepted} rejected={c.LinesRejected} delivered={c.SamplesDelivered} dropped={c.SamplesDropped} batches={c.BatchesDelivered} bytes={c.BytesReceived} sink={sinkCount}");
        return rates;
    }

    private static async Task<List<double>> RunRelayAsync(string relayPath, byte[][] payloads, int warmup, int seconds, TextWriter output, CancellationToken cancellationToken)
    {
        // The relay's statistics come back as Graphite lines to an in-process listener.
        var statsSink = new StatsSink();
        var statsListener = new GraphiteListener(new GraphiteListenerOptions { Port = 0, FlushDelay = TimeSpan.FromMilliseconds(5) }, statsSink);
        await statsListener.StartAsync(cancellationToken).ConfigureAwait(false);
        int relayPort = FreePort();
        string config = Path.Combine(Path.GetTempPath(), $"htmengine-relay-{Environment.ProcessId}.conf");
        await File.WriteAllTextAsync(config, string.Join('\n',
            $"cluster stats forward 127.0.0.1:{statsListener.LocalEndPoint!.Port};",
            $"listen type linemode 127.0.0.1:{relayPort} proto tcp;",
            "statistics submit every 1 seconds reset counters after interval prefix with relaystats send to stats stop;",
            "match * send to blackhole;",
            ""), cancellationToken).ConfigureAwait(false);

        using var relay = Process.Start(new ProcessStartInfo(relayPath)
        {
            ArgumentList = { "-f", config, "-w", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("could not start " + relayPath);
        _ = relay.StandardOutput.ReadToEndAsync(cancellationToken);
        _ = relay.StandardError.ReadToEndAsync(cancellationToken);
        var rates = new List<double>();
        try
        {
            await WaitForPortAsync(relayPort, cancellationToken).ConfigureAwait(false);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task[] clients = StartClients(new IPEndPoint(IPAddress.Loopback, relayPort), payloads, stop.Token);
            long windowStart = Stopwatch.GetTimestamp() + (long)((warmup + 0.5) * Stopwatch.Frequency);
            await SampleAsync(
                () => statsSink.MetricsReceivedTotal,
                () =>
                {
                    relay.Refresh();
                    return relay.TotalProcessorTime;
                },
                warmup,
                seconds,
                rates: null,
                output,
                "cpu(relay)",
                cancellationToken).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(clients).ConfigureAwait(false);

            long windowEnd = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 2);

            // The relay reports per-interval counts on its own one-second clock; use those that arrived in the window.
            await Task.Delay(1200, cancellationToken).ConfigureAwait(false);
            List<(long Ticks, double Value)> intervals = statsSink.Intervals();
            rates.AddRange(intervals.Where(i => i.Ticks > windowStart && i.Ticks <= windowEnd).Select(i => i.Value));
            output.WriteLine($"relay series: {statsSink.SeriesSeen}");
            output.WriteLine($"relay metricsReceived per interval: {string.Join(' ', intervals.Select(i => i.Value.ToString("F0", CultureInfo.InvariantCulture)))}");
        }
        finally
        {
            relay.Kill();
            await relay.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            await statsListener.DisposeAsync().ConfigureAwait(false);
            File.Delete(config);
        }

        return rates;
    }

    /// <summary>Samples a counter once a second for <paramref name="warmup"/> plus <paramref name="seconds"/>; records rates after the warm-up.</summary>
    private static async Task SampleAsync(Func<long> counter, Func<TimeSpan> cpu, int warmup, int seconds, List<double>? rates, TextWriter output, string cpuLabel, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long lastCount = counter();
        TimeSpan lastCpu = cpu();
        long lastTicks = Stopwatch.GetTimestamp();
        for (int second = 1; second <= warmup + seconds; second++)
        {
            if (!await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                break;
            }

            long count = counter();
            TimeSpan cpuNow = cpu();
            long ticks = Stopwatch.GetTimestamp();
            double elapsed = Stopwatch.GetElapsedTime(lastTicks, ticks).TotalSeconds;
            double rate = (count - lastCount) / elapsed;
            double cpuPercent = (cpuNow - lastCpu).TotalSeconds / elapsed * 100;
            bool warm = second > warmup;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"t={second,2}s {(warm ? "" : "(warm-up) ")}count/s={rate,12:F0} {cpuLabel}={cpuPercent:F0}%"));
            if (warm)
            {
                rates?.Add(rate);
            }

            lastCount = count;
            lastCpu = cpuNow;
            lastTicks = ticks;
        }
    }

    private static Task[] StartClients(IPEndPoint target, byte[][] payloads, CancellationToken stop)
    {
        var clients = new Task[payloads.Length];
        for (int i = 0; i < payloads.Length; i++)
        {
            byte[] payload = payloads[i];
            clients[i] = Task.Run(() => StreamAsync(target, payload, stop), CancellationToken.None);
        }

        return clients;
    }

    private static async Task StreamAsync(IPEndPoint target, byte[] payload, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SendBufferSize = 1024 * 1024;
        await socket.ConnectAsync(target, stop).ConfigureAwait(false);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                ReadOnlyMemory<byte> rest = payload;
                while (!rest.IsEmpty)
                {
                    int sent = await socket.SendAsync(rest, SocketFlags.None, stop).ConfigureAwait(false);
                    rest = rest[sent..];
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Time is up.
        }
        catch (SocketException)
        {
            // The receiver went away.
        }
    }

    /// <summary>About 4 MiB of lines per connection, e.g. <c>servers.web0042.cpu.usertime 1234.56 1700000000</c>.</summary>
    private static byte[][] BuildPayloads(int connections, int names)
    {
        var result = new byte[connections][];
        for (int c = 0; c < connections; c++)
        {
            var random = new Random(c);
            var builder = new StringBuilder(4 * 1024 * 1024 + 256);
            int i = 0;
            while (builder.Length < 4 * 1024 * 1024)
            {
                builder.Append("servers.web").Append((i % names).ToString("D4", CultureInfo.InvariantCulture)).Append(".cpu.usertime ")
                    .Append((random.Next(0, 1_000_000) / 100.0).ToString("F2", CultureInfo.InvariantCulture))
                    .Append(' ').Append(1_700_000_000 + (i / names)).Append('\n');
                i++;
            }

            result[c] = Encoding.ASCII.GetBytes(builder.ToString());
        }

        return result;
    }

    private static double AverageLineLength(byte[] payload)
    {
        int lines = 0;
        foreach (byte b in payload)
        {
            lines += b == (byte)'\n' ? 1 : 0;
        }

        return payload.Length / (double)lines;
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static async Task WaitForPortAsync(int port, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (attempt < 50)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Collects the relay's total <c>relaystats.metricsReceived</c> statistic (one per-interval count each second,
    /// with counters reset after each interval) with its arrival time; per-dispatcher series are ignored.
    /// </summary>
    private sealed class StatsSink : IMetricSampleSink
    {
        private const string TotalName = "relaystats.metricsReceived";
        private readonly Lock _gate = new();
        private readonly List<(long Ticks, double Value)> _intervals = [];
        private readonly HashSet<string> _names = [];
        private long _total;

        public long MetricsReceivedTotal => Interlocked.Read(ref _total);

        public string SeriesSeen
        {
            get
            {
                lock (_gate)
                {
                    return string.Join(' ', _names.Where(n => n.EndsWith(".metricsReceived", StringComparison.Ordinal)).Order());
                }
            }
        }

        public List<(long Ticks, double Value)> Intervals()
        {
            lock (_gate)
            {
                return [.. _intervals];
            }
        }

        public ValueTask WriteAsync(MetricSampleBatch batch, CancellationToken cancellationToken)
        {
            long now = Stopwatch.GetTimestamp();
            foreach (MetricSample sample in batch.Samples)
            {
                string name = batch.GetName(sample);
                lock (_gate)
                {
                    _names.Add(name);
                    if (name == TotalName)
                    {
                        _intervals.Add((now, sample.Value));
                    }
                }

                if (name == TotalName)
                {
                    Interlocked.Add(ref _total, (long)sample.Value);
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}
