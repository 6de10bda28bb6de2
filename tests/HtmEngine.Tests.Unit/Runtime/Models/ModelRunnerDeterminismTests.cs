using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Models;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Models;

/// <summary>
/// The same rows give bit-identical raw scores whatever happens between them: straight through, with the model
/// evicted and reloaded every few rows, across a stop or a crash and restart, across a gap that forces catch-up
/// from the database, and with duplicate deliveries. The reference is a bare <c>HtmModel</c> fed the stored rows.
/// </summary>
public sealed class ModelRunnerDeterminismTests
{
    private const int Rows = 400;

    [Fact]
    public async Task a_Rows_streamed_after_defineModel_score_as_a_bare_model()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("straight");
        await h.PublishAsync(uid, ModelRequest.Define(uid, "cmd-1", RunnerHarness.Definition));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel result");
        Assert.Equal(ModelErrorCodes.Success, h.CommandResultsOf(uid)[0].Status);
        Assert.Equal("cmd-1", h.CommandResultsOf(uid)[0].CommandId);

        Sample[] series = RunnerHarness.Series(Rows);
        for (int i = 0; i < Rows; i += 50)
        {
            await h.StoreAsync(uid, series.AsMemory(i, 50));
            await h.PublishRowsAsync(uid, i + 1, i + 50, perMessage: 50);
        }

        await h.WaitForScoresAsync(uid, Rows);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        Assert.Equal(Rows, h.InferencesOf(uid).Count);

        // Inferences carry the row's timestamp and value.
        ModelResult first = h.InferencesOf(uid).Find(r => r.Rowid == 1);
        Assert.Equal(series[0].Timestamp, first.Timestamp);
        Assert.Equal(series[0].Value, first.Value);
        ModelRunnerCountersSnapshot counters = service.Counters.Snapshot();
        Assert.Equal(0, counters.RowsCaughtUp);
        Assert.Equal(0, counters.Evictions);
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task b_Models_evicted_and_reloaded_every_K_rows_under_a_tiny_budget_score_the_same()
    {
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        // Nothing fits: every message ends with all models evicted. One message per unit: a batch would step each
        // metric's rows of all its messages together (ShardRunner.OrderByMetric) and swap far less than this test wants.
        h.Options = h.Options with { MemoryBudgetBytes = 1, BatchMessages = 1 };
        await using var service = await h.StartAsync();
        string[] uids = [await h.CreateMetricAsync("swap-a"), await h.CreateMetricAsync("swap-b"), await h.CreateMetricAsync("swap-c")];
        Sample[][] series = [RunnerHarness.Series(Rows, 1), RunnerHarness.Series(Rows, 2), RunnerHarness.Series(Rows, 3)];
        foreach (string uid in uids)
        {
            await h.PublishAsync(uid, ModelRequest.Define(uid, "define-" + uid, RunnerHarness.Definition));
            await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel result");
        }

        const int K = 40;
        for (int i = 0; i < Rows; i += K)
        {
            for (int m = 0; m < uids.Length; m++)
            {
                await h.StoreAsync(uids[m], series[m].AsMemory(i, K));
                await h.PublishRowsAsync(uids[m], i + 1, i + K, perMessage: K);
            }
        }

        foreach (string uid in uids)
        {
            await h.WaitForScoresAsync(uid, Rows);
            h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        }

        ModelRunnerCountersSnapshot counters = service.Counters.Snapshot();
        int messages = uids.Length * (Rows / K);
        Assert.True(counters.Evictions >= messages, $"{counters.Evictions} evictions for {messages} row messages");
        Assert.True(counters.ModelsLoaded >= messages - uids.Length, $"{counters.ModelsLoaded} loads for {messages} row messages");
        Assert.Equal(0, counters.RowsCaughtUp);
        await RunnerHarness.WaitUntilAsync(() => service.HotModelBytes == 0, "the last message to evict its model (after its results were published)");
    }

    [Fact]
    public async Task c_A_graceful_stop_and_restart_mid_stream_scores_the_same_and_recovers_rows_stored_meanwhile()
    {
        await using var h = await RunnerHarness.CreateAsync();
        string uid = await h.CreateMetricAsync("restart");
        Sample[] series = RunnerHarness.Series(Rows);
        var first = await h.StartAsync();
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await h.StoreAsync(uid, series.AsMemory(0, 150));
        await h.PublishRowsAsync(uid, 1, 150, perMessage: 30);
        await h.WaitForScoresAsync(uid, 150);
        // The scores alone do not say that the row requests were handled: defineModel usually runs after the rows are
        // stored and scores all 150 by catch-up, so its results come while the five row messages still wait in the
        // queue (or in the consumer's prefetch). Stopped then, the first runner leaves them queued and the second one
        // skips them too, counting 30 more duplicates each. Each of the 150 requests is handled once it is either
        // scored (a score not caught up) or skipped as a duplicate.
        await RunnerHarness.WaitUntilAsync(() => RowRequestsHandled(first.Counters.Snapshot()) == 150, "the first runner to handle the 150 row requests",
            actual: () => first.Counters.Snapshot().ToString());
        await first.StopAsync(CancellationToken.None);
        await first.DisposeAsync();
        Assert.True(new ModelCheckpointStore(h.Options.CheckpointRoot).TryPeekLastRowid(uid, out long checkpointed));
        Assert.Equal(150, checkpointed);

        // Rows stored while no runner ran are scored by start-up recovery, without any request.
        await h.StoreAsync(uid, series.AsMemory(150, 100));
        await using var second = await h.StartAsync();
        await h.WaitForScoresAsync(uid, 250);
        Assert.Equal(100, second.Counters.Snapshot().RowsCaughtUp);
        Assert.Equal(1, second.Counters.Snapshot().ModelsLoaded);

        // Requests for the recovered rows arrive late: skipped as duplicates; the stream then continues.
        await h.PublishRowsAsync(uid, 151, 250, perMessage: 50);
        await h.StoreAsync(uid, series.AsMemory(250));
        await h.PublishRowsAsync(uid, 251, Rows, perMessage: 50);
        await h.WaitForScoresAsync(uid, Rows);
        await RunnerHarness.WaitUntilAsync(() => second.Counters.Snapshot().DuplicateRows == 100, "100 duplicate rows skipped",
            actual: () => second.Counters.Snapshot().ToString());
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        Assert.Equal(Rows, h.InferencesOf(uid).Count);
        await second.StopAsync(CancellationToken.None);
    }

    /// <summary>Row requests a runner handled: scored on request (not by catch-up) or skipped as duplicates.</summary>
    private static long RowRequestsHandled(ModelRunnerCountersSnapshot counters) =>
        counters.RowsScored - counters.RowsCaughtUp + counters.DuplicateRows;

    [Fact]
    public async Task c_A_crash_mid_stream_replays_from_the_last_checkpoint_and_scores_the_same()
    {
        await using var h = await RunnerHarness.CreateAsync();
        h.Options = h.Options with { CheckpointEveryRows = 64 };
        string uid = await h.CreateMetricAsync("crash");
        Sample[] series = RunnerHarness.Series(Rows);
        await h.StoreAsync(uid, series.AsMemory(0, 200));
        var first = await h.StartAsync();
        // Start-up recovery already scored the 200 stored rows (ACTIVE metric with a definition in model_params);
        // the define that follows is idempotent.
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel result");
        await h.WaitForScoresAsync(uid, 200);
        await first.DisposeAsync(); // no graceful checkpoint: as kill -9 would leave it
        var store = new ModelCheckpointStore(h.Options.CheckpointRoot);
        Assert.True(store.TryPeekLastRowid(uid, out long checkpointed));
        Assert.Equal(192, checkpointed); // the last periodic checkpoint (every 64 rows)

        await h.StoreAsync(uid, series.AsMemory(200));
        await using var second = await h.StartAsync();
        await h.WaitForScoresAsync(uid, Rows);
        Assert.Equal(Rows - 192, second.Counters.Snapshot().RowsCaughtUp);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        await second.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task d_A_gap_in_rowids_is_caught_up_from_the_database_first()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("gap");
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel result");
        await h.StoreAsync(uid, RunnerHarness.Series(Rows));
        await h.PublishRowsAsync(uid, 1, 100, perMessage: 25);
        await h.PublishRowsAsync(uid, 250, Rows, perMessage: 25); // rows 101..249 only in metric_data
        await h.WaitForScoresAsync(uid, Rows);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);

        // Rows 101..249 reached the model through catch-up, each once; their results precede row 250's.
        var inferences = h.InferencesOf(uid);
        Assert.Equal(Rows, inferences.Count);
        int at250 = inferences.FindIndex(r => r.Rowid == 250);
        for (long rowid = 101; rowid < 250; rowid++)
        {
            Assert.InRange(inferences.FindIndex(r => r.Rowid == rowid), 0, at250 - 1);
        }

        Assert.Equal(149, service.Counters.Snapshot().RowsCaughtUp);
    }

    [Fact]
    public async Task e_Duplicate_deliveries_are_skipped_and_never_change_a_score()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("dup");
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition)); // redelivered command: idempotent
        Sample[] series = RunnerHarness.Series(Rows);
        for (int i = 0; i < Rows; i += 50)
        {
            await h.StoreAsync(uid, series.AsMemory(i, 50));
            await h.PublishRowsAsync(uid, i + 1, i + 50, perMessage: 50);
            await h.PublishRowsAsync(uid, i + 1, i + 50, perMessage: 50); // the same message again
            await h.PublishRowsAsync(uid, Math.Max(1, i - 20), i + 50, perMessage: 17); // overlapping older rows
        }

        await h.WaitForScoresAsync(uid, Rows);
        await RunnerHarness.WaitUntilAsync(() => service.Counters.Snapshot().DuplicateRows >= Rows, "the duplicates to be processed");
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        Assert.Equal(Rows, h.InferencesOf(uid).Count);
        Assert.All(h.CommandResultsOf(uid), r => Assert.Equal(ModelErrorCodes.Success, r.Status));
        Assert.Equal(2, h.CommandResultsOf(uid).Count);
    }

    [Fact]
    public async Task A_corrupt_checkpoint_is_reported_by_name_and_the_model_is_rebuilt_by_replay()
    {
        await using var h = await RunnerHarness.CreateAsync();
        string uid = await h.CreateMetricAsync("corrupt");
        Sample[] series = RunnerHarness.Series(Rows);
        await h.StoreAsync(uid, series.AsMemory(0, 200));
        var first = await h.StartAsync();
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel result");
        await h.WaitForScoresAsync(uid, 200);
        await first.StopAsync(CancellationToken.None);
        await first.DisposeAsync();

        string file = new ModelCheckpointStore(h.Options.CheckpointRoot).PathOf(uid);
        byte[] bytes = await File.ReadAllBytesAsync(file);
        bytes[bytes.Length / 2] ^= 0x5A;
        await File.WriteAllBytesAsync(file, bytes);

        await using var second = await h.StartAsync(); // the header still says 200: nothing to recover yet
        await h.StoreAsync(uid, series.AsMemory(200));
        await h.PublishRowsAsync(uid, 201, Rows, perMessage: 50);
        await h.WaitForScoresAsync(uid, Rows);
        ModelRunnerCountersSnapshot counters = second.Counters.Snapshot();
        Assert.True(counters.CorruptCheckpoints == 1, h.Logs.ToString());
        Assert.True(counters.RowsCaughtUp == 200, $"{counters.RowsCaughtUp} rows caught up; log:{Environment.NewLine}{h.Logs}"); // replayed from rowid 1
        Assert.Contains(h.Logs.Lines, line => line.StartsWith("Warning", StringComparison.Ordinal) && line.Contains(file, StringComparison.Ordinal));
        Assert.True(File.Exists(file + ".corrupt"));
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), Rows);
        await second.StopAsync(CancellationToken.None);
    }
}
