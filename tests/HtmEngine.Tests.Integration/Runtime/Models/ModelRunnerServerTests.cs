using System.Collections.Concurrent;
using HtmEngine.Bus;
using HtmEngine.Core.Models;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Models;
using HtmEngine.Storage;
using HtmEngine.Tests.Integration.Bus;
using HtmEngine.Tests.Integration.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Tests.Integration.Runtime.Models;

/// <summary>
/// The model runners on MariaDB and RabbitMQ: two metrics streamed with duplicates and a gap, the service swapping
/// under a budget that holds one model, a crash (no graceful checkpoint) and a graceful restart in the middle; every
/// stored row ends scored, bit-identical to a bare model fed the same rows.
/// </summary>
public sealed class ModelRunnerServerTests
{
    private const int Rows = 360;
    private static readonly ModelDefinition s_definition = new("nab", 0, 100);

    [ServerFact(TestServer.All)]
    public async Task Scores_survive_swapping_a_crash_a_restart_duplicates_and_a_gap_bit_for_bit()
    {
        StorageOptions storage = TestServers.FreshMySqlDatabase("models");
        string id = Guid.NewGuid().ToString("N")[..12];
        string checkpoints = Path.Combine(Path.GetTempPath(), "htmengine-models-it-" + id);
        var options = new ModelRunnerOptions($"it.{id}.input.", $"it.{id}.results", 2, 1, checkpoints) { CheckpointEveryRows = 50 };
        var results = new ConcurrentQueue<ModelResult>();
        IMetricRepository repository = await MetricRepository.OpenAsync(storage);
        await using IMessageBus bus = await RabbitMqMessageBus.ConnectAsync(RabbitMqBusContractTests.Options);
        try
        {
            await bus.DeclareQueueAsync(options.ResultsQueue);
            await using IBusSubscription collector = await bus.ConsumeAsync(options.ResultsQueue, (message, _) =>
            {
                foreach (ModelResult r in ModelMessageCodec.DecodeResults(message.Body.Span))
                {
                    results.Enqueue(r);
                }

                return ValueTask.FromResult(ConsumeOutcome.Ack);
            }, new ConsumerOptions(Prefetch: 32));

            string[] uids = new string[2];
            Sample[][] series = new Sample[2][];
            for (int m = 0; m < 2; m++)
            {
                MetricRow row = await repository.CreateMetricAsync(new NewMetric($"it-models-{id}-{m}")
                {
                    Status = MetricStatus.Active,
                    ModelParams = "{\"modelDefinition\":" + s_definition.ToJson() + "}",
                });
                uids[m] = row.Uid;
                series[m] = MakeSeries(Rows, m + 1);
            }

            async Task PublishRowsAsync(string uid, long from, long to, int perMessage)
            {
                IReadOnlyList<MetricDataRow> rows = await repository.GetMetricDataAsync(new MetricDataQuery { Uid = uid, StartRowid = from, StopRowid = to });
                for (int i = 0; i < rows.Count; i += perMessage)
                {
                    var requests = new List<ModelRequest>();
                    for (int k = i; k < Math.Min(rows.Count, i + perMessage); k++)
                    {
                        requests.Add(ModelRequest.ForRow(uid, rows[k].Rowid, rows[k].Timestamp, rows[k].MetricValue));
                    }

                    string queue = ModelShards.InputQueue(options.ModelInputQueuePrefix, ModelShards.ShardOf(uid, options.ShardCount));
                    await bus.PublishToQueueAsync(queue, [new OutgoingMessage(ModelMessageCodec.EncodeRequests([.. requests]), null, null, ModelMessageCodec.RequestsContentType)]);
                }
            }

            async Task StartAsync(ModelRunnerService service)
            {
                await service.StartAsync(CancellationToken.None);
                await service.Recovery.WaitAsync(TimeSpan.FromSeconds(180));
            }

            // Part 1: define (catches up the first 60 stored rows), stream to 120 with duplicates, then crash.
            var first = new ModelRunnerService(repository, bus, options, NullLoggerFactory.Instance);
            await StartAsync(first);
            for (int m = 0; m < 2; m++)
            {
                await repository.StoreSamplesAsync(uids[m], series[m].AsMemory(0, 60));
                string queue = ModelShards.InputQueue(options.ModelInputQueuePrefix, ModelShards.ShardOf(uids[m], options.ShardCount));
                await bus.PublishToQueueAsync(queue, [new OutgoingMessage(ModelMessageCodec.EncodeRequests([ModelRequest.Define(uids[m], "define-" + m, s_definition)]))]);
            }

            for (int m = 0; m < 2; m++)
            {
                await repository.StoreSamplesAsync(uids[m], series[m].AsMemory(60, 60));
                await PublishRowsAsync(uids[m], 61, 120, 20);
                await PublishRowsAsync(uids[m], 50, 120, 35); // duplicates
            }

            await WaitForAsync(results, uids, 120);
            await first.DisposeAsync(); // crash: hot models are not checkpointed

            // Part 2: rows stored while down are recovered; then a gap (181..239 only in the database); graceful stop.
            for (int m = 0; m < 2; m++)
            {
                await repository.StoreSamplesAsync(uids[m], series[m].AsMemory(120, 60));
            }

            var second = new ModelRunnerService(repository, bus, options, NullLoggerFactory.Instance);
            await StartAsync(second);
            await WaitForAsync(results, uids, 180);
            for (int m = 0; m < 2; m++)
            {
                await repository.StoreSamplesAsync(uids[m], series[m].AsMemory(180, 120));
                await PublishRowsAsync(uids[m], 240, 300, 30);
            }

            await WaitForAsync(results, uids, 300);
            Assert.True(second.Counters.Snapshot().Evictions > 0, "a budget smaller than one model must make every message evict");
            await second.StopAsync(CancellationToken.None);
            await second.DisposeAsync();

            // Part 3: a restarted service continues the stream.
            var third = new ModelRunnerService(repository, bus, options, NullLoggerFactory.Instance);
            await StartAsync(third);
            for (int m = 0; m < 2; m++)
            {
                await repository.StoreSamplesAsync(uids[m], series[m].AsMemory(300));
                await PublishRowsAsync(uids[m], 301, Rows, 15);
            }

            await WaitForAsync(results, uids, Rows);
            Assert.Equal(0, third.Counters.Snapshot().RowsCaughtUp);
            await third.StopAsync(CancellationToken.None);
            await third.DisposeAsync();

            for (int m = 0; m < 2; m++)
            {
                var model = new HtmModel(ModelParameters.Create("nab", 0, 100));
                IReadOnlyList<MetricDataRow> stored = await repository.GetMetricDataAsync(new MetricDataQuery { Uid = uids[m] });
                Assert.Equal(Rows, stored.Count);
                var expected = new double[Rows + 1];
                foreach (MetricDataRow row in stored)
                {
                    expected[row.Rowid] = model.Step(row.Timestamp, row.MetricValue);
                }

                int seen = 0;
                foreach (ModelResult r in results)
                {
                    if (r.MetricUid == uids[m] && r.Kind == ModelResultKind.Inference)
                    {
                        Assert.Equal(0, r.Status);
                        Assert.True(BitConverter.DoubleToInt64Bits(expected[r.Rowid]) == BitConverter.DoubleToInt64Bits(r.RawScore),
                            $"metric {m} row {r.Rowid}: {r.RawScore:R} vs bare model {expected[r.Rowid]:R}");
                        seen++;
                    }
                }

                Assert.True(seen >= Rows, $"metric {m}: {seen} results for {Rows} rows");
            }
        }
        finally
        {
            for (int shard = 0; shard < options.ShardCount; shard++)
            {
                await bus.DeleteQueueAsync(ModelShards.InputQueue(options.ModelInputQueuePrefix, shard));
            }

            await bus.DeleteQueueAsync(options.ResultsQueue);
            await repository.DisposeAsync();
            await MySqlRepositoryFixture.DropDatabaseAsync(storage);
            if (Directory.Exists(checkpoints))
            {
                Directory.Delete(checkpoints, recursive: true);
            }
        }
    }

    private static Sample[] MakeSeries(int count, int seed)
    {
        var random = new Random(seed);
        var start = new DateTime(2024, 5, 1, 0, 0, 0, DateTimeKind.Utc);
        var samples = new Sample[count];
        for (int i = 0; i < count; i++)
        {
            samples[i] = new Sample(start.AddMinutes(5 * i), Math.Round(50 + (25 * Math.Sin(i / 7.0)) + (random.NextDouble() * 5), 3));
        }

        return samples;
    }

    private static async Task WaitForAsync(ConcurrentQueue<ModelResult> results, string[] uids, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(240);
        while (true)
        {
            bool done = true;
            foreach (string uid in uids)
            {
                var seen = new HashSet<long>();
                foreach (ModelResult r in results)
                {
                    if (r.MetricUid == uid && r.Kind == ModelResultKind.Inference && r.Rowid <= count)
                    {
                        seen.Add(r.Rowid);
                    }
                }

                done &= seen.Count == count;
            }

            if (done)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for rows 1..{count} of both metrics to be scored");
            await Task.Delay(50);
        }
    }
}
