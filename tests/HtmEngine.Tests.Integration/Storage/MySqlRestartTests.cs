using System.Diagnostics;
using System.Globalization;
using HtmEngine.Storage;
using MySqlConnector;
using Xunit.Abstractions;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>A MariaDB crash and restart in the middle of a stream of batched inserts.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class MySqlRestartTests(ITestOutputHelper output) : IRequiresMariaDb
{
    private const int Writers = 4;
    private const int BatchSize = 200;

    [ServerFact]
    public async Task Every_batch_is_committed_exactly_once_across_a_server_kill_and_restart()
    {
        var options = TestServers.FreshMySqlDatabase("restart") with { RetryBudget = TimeSpan.FromSeconds(60), ConnectTimeout = TimeSpan.FromSeconds(2) };
        var repository = await MetricRepository.OpenAsync(options);
        try
        {
            var uids = new string[Writers];
            for (var w = 0; w < Writers; w++)
            {
                uids[w] = (await repository.GetOrCreateCustomMetricAsync("restart.writer." + w.ToString(CultureInfo.InvariantCulture))).Metric.Uid;
            }

            var batches = new int[Writers];
            var stored = new long[Writers];
            var duplicates = new long[Writers];
            var restarted = 0;
            var batchesAfterRestart = new int[Writers];
            var writers = new Task[Writers];
            for (var w = 0; w < Writers; w++)
            {
                var writer = w;
                writers[w] = Task.Run(async () =>
                {
                    var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
                    var clock = Stopwatch.StartNew();
                    while (Volatile.Read(ref batchesAfterRestart[writer]) < 10 && clock.Elapsed < TimeSpan.FromSeconds(50))
                    {
                        var samples = new Sample[BatchSize];
                        for (var i = 0; i < BatchSize; i++)
                        {
                            samples[i] = new Sample(t0.AddSeconds(((long)batches[writer] * BatchSize) + i), i);
                        }

                        // Returns only after commit; throws only when the retry budget ran out.
                        var result = await repository.StoreSamplesAsync(uids[writer], samples);
                        stored[writer] += result.StoredCount;
                        foreach (var outcome in result.Outcomes)
                        {
                            Assert.True(outcome is SampleOutcome.Stored or SampleOutcome.Duplicate, "unexpected outcome " + outcome);
                            duplicates[writer] += outcome == SampleOutcome.Duplicate ? 1 : 0;
                        }

                        batches[writer]++;
                        if (Volatile.Read(ref restarted) == 1)
                        {
                            Interlocked.Increment(ref batchesAfterRestart[writer]);
                        }
                    }
                });
            }

            while (Min(batches) < 5)
            {
                await Task.Delay(20);
            }

            var down = await MariaDbRestarter.KillAndAwaitRestartAsync(options, TimeSpan.FromSeconds(20));
            Volatile.Write(ref restarted, 1);
            await Task.WhenAll(writers);

            await using var connection = new MySqlConnection(MySqlTestConnection(options));
            await connection.OpenAsync();
            for (var w = 0; w < Writers; w++)
            {
                var sent = (long)batches[w] * BatchSize;
                await using var cmd = new MySqlCommand("SELECT COUNT(*), COUNT(DISTINCT timestamp), MIN(rowid), MAX(rowid), (SELECT last_rowid FROM metric WHERE uid = @u) FROM metric_data WHERE uid = @u", connection);
                cmd.Parameters.AddWithValue("@u", uids[w]);
                await using var reader = await cmd.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                var (count, distinct, min, max, last) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
                output.WriteLine($"writer {w}: batches {batches[w]}, sent {sent}, rows {count}, stored by calls {stored[w]}, recognised duplicates {duplicates[w]}, server down {down.TotalSeconds:F1} s");

                // Every sample of every acknowledged batch is there exactly once, rowids 1..N without gaps.
                Assert.Equal(sent, count);
                Assert.Equal(sent, distinct);
                Assert.Equal(1, min);
                Assert.Equal(sent, max);
                Assert.Equal(sent, last);
                // A batch whose commit was not acknowledged before the crash is recognised on
                // retry and reported as stored, not as duplicates.
                Assert.Equal(0, duplicates[w]);
                Assert.Equal(sent, stored[w]);
                Assert.True(batchesAfterRestart[w] >= 10, "the writer kept storing after the restart");
            }
        }
        finally
        {
            await repository.DisposeAsync();
            await MariaDbRestarter.EnsureRunningAsync();
            await MySqlRepositoryFixture.DropDatabaseAsync(options);
        }
    }

    private static int Min(int[] values)
    {
        var min = int.MaxValue;
        for (var i = 0; i < values.Length; i++)
        {
            min = Math.Min(min, Volatile.Read(ref values[i]));
        }

        return min;
    }

    private static string MySqlTestConnection(StorageOptions o)
        => new MySqlConnectionStringBuilder { Server = o.Host, Port = (uint)o.Port, UserID = o.User, Password = o.Password, Database = o.Database, SslMode = MySqlSslMode.None }.ConnectionString;
}

/// <summary>
/// Tests that use (or crash) the shared MariaDB run one class at a time, and with nothing else running: a restart,
/// or a database kept down for 40 s, would otherwise fail whichever other server test ran at that moment.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MariaDbCollection
{
    public const string Name = "MariaDB";
}
