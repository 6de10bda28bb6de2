using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HtmEngine.Bus;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Server.Hosting;

namespace HtmEngine.LoadTest.Scenarios;

/// <summary>
/// Latency at a steady cadence: <c>--metrics</c> metrics are monitored and warmed up (models built, <c>--warmup-rows</c>
/// rows of history each scored), then every metric sends one sample per period of <c>--period-s</c> seconds (a
/// 5-minute cadence with time compressed), the metrics' sends spread evenly over the period. The latency of a sample
/// is from its send over Graphite TCP to its result on the results exchange. Headline: <c>p50_ms=&lt;a&gt; p99_ms=&lt;b&gt;</c>.
/// </summary>
public sealed class CadenceScenario : IScenario
{
    /// <inheritdoc />
    public string Name => "cadence";

    /// <inheritdoc />
    public string Description => "steady 5-minute cadence, time compressed: latency from a sample's send to its result on the exchange";

    /// <inheritdoc />
    public string Usage => "cadence [--backend embedded|servers] [--metrics 5000] [--period-s 10] [--periods 6] [--warmup-rows 5] [--shards 0] [--memory-budget-mb <conf>] [--drain-s 120]";

    /// <inheritdoc />
    public async Task<int> RunAsync(ScenarioArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        string backend = args.GetString("backend", "embedded");
        int metrics = args.GetInt("metrics", 5000, 1, 100_000);
        int periodSeconds = args.GetInt("period-s", 10, 1, 3600);
        int periods = args.GetInt("periods", 6, 1, 100_000);
        int warmupRows = args.GetInt("warmup-rows", 5, 0, 100_000);
        int shards = args.GetInt("shards", 0, 0, 4096);
        int budgetMb = args.GetInt("memory-budget-mb", 0, 0, 1 << 20);
        int drainSeconds = args.GetInt("drain-s", 120, 1, 3600);
        args.ThrowIfUnknown();
        if (backend is not ("embedded" or "servers"))
        {
            throw new ArgumentException($"--backend must be embedded or servers, got '{backend}'");
        }

        string id = Guid.NewGuid().ToString("N")[..10];
        string scratch = Path.Combine(Path.GetTempPath(), "htmengine-loadtest-cadence-" + id);
        var engine = EndToEndScenario.Configure(backend, id, scratch, shards);
        if (budgetMb > 0)
        {
            engine = engine with { ModelSwapper = engine.ModelSwapper with { MemoryBudgetMb = budgetMb } };
        }

        output.WriteLine($"cadence: {metrics} metrics, one sample each every {periodSeconds} s (5 minutes compressed {300.0 / periodSeconds:F0}x, {metrics / (double)periodSeconds:F0} samples/s) for {periods} periods after {warmupRows} warm-up rows; backend {backend}, {EngineComposition.Shards(engine)} shard(s), model budget {engine.ModelSwapper.MemoryBudgetMb} MiB");
        var runtime = await EngineRuntime.OpenAsync(EngineComposition.Runtime(engine), cancellationToken: cancellationToken).ConfigureAwait(false);
        var started = new List<IEngineService>();
        string subscriberQueue = engine.MetricStreamer.ResultsExchangeName + ".loadtest";
        IBusSubscription? subscriber = null;
        try
        {
            var names = new string[metrics];
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            var uids = new string[metrics];

            // sendTicks[m][k]: when the k-th cadence sample of metric m was written to the socket (0 = not yet).
            var sendTicks = new long[metrics][];
            for (int m = 0; m < metrics; m++)
            {
                sendTicks[m] = new long[periods];
            }

            var latencies = new List<double>(metrics * periods);
            var warmSeen = new int[metrics];
            long defined = 0, warmed = 0, arrived = 0;
            long expected = (long)metrics * periods;
            var allDefined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var allWarm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (warmupRows == 0)
            {
                allWarm.TrySetResult();
            }

            await runtime.Bus.DeclareQueueAsync(subscriberQueue, cancellationToken).ConfigureAwait(false);
            await runtime.Bus.BindQueueAsync(subscriberQueue, engine.MetricStreamer.ResultsExchangeName, cancellationToken).ConfigureAwait(false);
            subscriber = await runtime.Bus.ConsumeAsync(
                subscriberQueue,
                (message, ct) =>
                {
                    long now = Stopwatch.GetTimestamp();
                    if (message.Headers.ContainsKey(ResultsMessages.DataTypeHeader))
                    {
                        if (Interlocked.Increment(ref defined) == metrics)
                        {
                            allDefined.TrySetResult();
                        }

                        return ValueTask.FromResult(ConsumeOutcome.Ack);
                    }

                    using var json = JsonDocument.Parse(ResultsMessages.Inflate(message.Body));
                    string uid = json.RootElement.GetProperty("metric").GetProperty("uid").GetString()!;
                    lock (latencies)
                    {
                        if (!index.TryGetValue(uid, out int m))
                        {
                            return ValueTask.FromResult(ConsumeOutcome.Ack);
                        }

                        foreach (var r in json.RootElement.GetProperty("results").EnumerateArray())
                        {
                            long k = r.GetProperty("rowid").GetInt64() - warmupRows - 1;
                            if (k < 0)
                            {
                                if (++warmSeen[m] == warmupRows && ++warmed == metrics)
                                {
                                    allWarm.TrySetResult();
                                }
                            }
                            else if (k < periods && sendTicks[m][k] > 0)
                            {
                                latencies.Add(Stopwatch.GetElapsedTime(sendTicks[m][k], now).TotalMilliseconds);
                                sendTicks[m][k] = -1; // counted once, whatever is republished
                                if (++arrived == expected)
                                {
                                    allArrived.TrySetResult();
                                }
                            }
                        }
                    }

                    return ValueTask.FromResult(ConsumeOutcome.Ack);
                },
                new ConsumerOptions(Prefetch: 256),
                cancellationToken).ConfigureAwait(false);

            foreach (var entry in ServiceCatalog.Defaults)
            {
                var service = entry.Create!(engine, runtime);
                await service.StartAsync(cancellationToken).ConfigureAwait(false);
                started.Add(service);
            }

            var adapter = EngineComposition.Adapter(engine, runtime);
            var phase = Stopwatch.StartNew();
            for (int m = 0; m < metrics; m++)
            {
                names[m] = $"loadtest.cadence.{id}.m{m}";
                uids[m] = await adapter.MonitorMetricAsync($"{{\"datasource\":\"custom\",\"metricSpec\":{{\"metric\":\"{names[m]}\"}},\"modelParams\":{{\"min\":0,\"max\":100}}}}", cancellationToken).ConfigureAwait(false);
                lock (latencies)
                {
                    index[uids[m]] = m;
                }
            }

            await WaitAsync(allDefined.Task, () => $"{Interlocked.Read(ref defined)}/{metrics} models defined", phase, output, cancellationToken).ConfigureAwait(false);
            output.WriteLine($"cadence: {metrics} metrics monitored, models built in {phase.Elapsed.TotalSeconds:F1} s");
            EndToEndScenario.WriteBreakdown(started, output, reset: true);

            var listener = started.OfType<ListenerService>().Single();
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, listener.LocalEndPoint!.Port, cancellationToken).ConfigureAwait(false);
            var stream = client.GetStream();
            var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            var text = new StringBuilder(1 << 16);
            if (warmupRows > 0)
            {
                phase.Restart();
                for (int i = 0; i < warmupRows; i++)
                {
                    for (int m = 0; m < metrics; m++)
                    {
                        AppendLine(text, names[m], m, i, start);
                    }

                    await FlushAsync(stream, text, cancellationToken).ConfigureAwait(false);
                }

                await WaitAsync(allWarm.Task, () => $"{Interlocked.Read(ref warmed)}/{metrics} metrics warm", phase, output, cancellationToken).ConfigureAwait(false);
                output.WriteLine($"cadence: {warmupRows} warm-up rows of {metrics} metrics scored in {phase.Elapsed.TotalSeconds:F1} s");
                EndToEndScenario.WriteBreakdown(started, output, reset: true);
            }

            // The cadence: sample (m, k) is due at k·P + m·P/N after the start; every few milliseconds the due ones go out.
            double periodTicks = periodSeconds * (double)Stopwatch.Frequency;
            long origin = Stopwatch.GetTimestamp();
            long total = (long)metrics * periods;
            long next = 0;
            phase.Restart();
            while (next < total)
            {
                long now = Stopwatch.GetTimestamp();
                int sent = 0;
                while (next < total && origin + (long)(((next / metrics) + ((next % metrics) / (double)metrics)) * periodTicks) <= now)
                {
                    int k = (int)(next / metrics), m = (int)(next % metrics);
                    AppendLine(text, names[m], m, warmupRows + k, start);
                    sendTicks[m][k] = now;
                    next++;
                    sent++;
                }

                if (sent > 0)
                {
                    await FlushAsync(stream, text, cancellationToken).ConfigureAwait(false);
                }

                if (next % metrics == 0 && sent > 0)
                {
                    long count;
                    lock (latencies)
                    {
                        count = arrived;
                    }

                    output.WriteLine($"cadence: period {next / metrics}/{periods} sent; {count} results so far, {phase.Elapsed.TotalSeconds:F0} s");
                }

                await Task.Delay(2, cancellationToken).ConfigureAwait(false);
            }

            output.WriteLine($"cadence: all {total} samples sent in {phase.Elapsed.TotalSeconds:F1} s; waiting up to {drainSeconds} s for the rest of the results");
            await Task.WhenAny(allArrived.Task, Task.Delay(TimeSpan.FromSeconds(drainSeconds), cancellationToken)).ConfigureAwait(false);
            double[] sorted;
            long missing;
            lock (latencies)
            {
                sorted = [.. latencies];
                missing = total - arrived;
            }

            Array.Sort(sorted);
            EndToEndScenario.WriteBreakdown(started, output);

            // A result still missing at the end counts as the longest wait seen so far (its latency is at least that).
            double p50 = Percentile(sorted, missing, 0.50), p99 = Percentile(sorted, missing, 0.99);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cadence: {sorted.Length} results timed, {missing} missing after the drain; max {(sorted.Length > 0 ? sorted[^1] : 0):F0} ms"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"p50_ms={p50:F0} p99_ms={p99:F0}"));
            return missing == 0 ? 0 : 1;
        }
        finally
        {
            await EndToEndScenario.TearDownAsync(started, subscriber, subscriberQueue, runtime, engine, backend, scratch).ConfigureAwait(false);
        }
    }

    private static void AppendLine(StringBuilder text, string name, int metric, int row, DateTime start)
    {
        long epoch = (long)(start.AddMinutes(5 * row) - DateTime.UnixEpoch).TotalSeconds;
        text.Append(name).Append(' ').Append(E2eSeries.Wave(metric, row).ToString("R", CultureInfo.InvariantCulture)).Append(' ').Append(epoch).Append('\n');
    }

    private static async Task FlushAsync(NetworkStream stream, StringBuilder text, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken).ConfigureAwait(false);
        text.Clear();
    }

    private static async Task WaitAsync(Task task, Func<string> progress, Stopwatch clock, TextWriter output, CancellationToken cancellationToken)
    {
        while (!task.IsCompleted)
        {
            await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken)).ConfigureAwait(false);
            output.WriteLine($"cadence: {progress()} after {clock.Elapsed.TotalSeconds:F0} s");
        }
    }

    private static double Percentile(double[] sorted, long missing, double q)
    {
        long n = sorted.Length + missing;
        if (n == 0)
        {
            return 0;
        }

        long rank = Math.Min(n - 1, (long)Math.Ceiling(q * n) - 1);
        return rank < sorted.Length ? sorted[Math.Max(0, rank)] : (sorted.Length > 0 ? sorted[^1] : double.PositiveInfinity);
    }
}
