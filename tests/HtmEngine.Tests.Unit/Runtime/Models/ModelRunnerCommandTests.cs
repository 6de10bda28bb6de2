using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Models;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Models;

/// <summary>defineModel and deleteModel results, rows without a model, bad input and leftover files.</summary>
public sealed class ModelRunnerCommandTests
{
    [Fact]
    public async Task defineModel_with_another_definition_fails_with_model_already_exists_and_bad_arguments_with_invalid_arg()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("define");
        await h.PublishAsync(uid,
            ModelRequest.Define(uid, "c1", RunnerHarness.Definition),
            ModelRequest.Define(uid, "c2", RunnerHarness.Definition with { Max = 200 }),
            new ModelRequest(ModelRequestKind.DefineModel, uid, 0, default, 0, "c3", "{not json"),
            new ModelRequest(ModelRequestKind.DefineModel, uid, 0, default, 0, "c4", new ModelDefinition("no-such-set", 0, 1).ToJson()));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 4, "four command results");
        List<ModelResult> results = h.CommandResultsOf(uid);
        Assert.Equal(["c1", "c2", "c3", "c4"], results.ConvertAll(r => r.CommandId!));
        Assert.All(results, r => Assert.Equal("defineModel", r.Method));
        Assert.Equal(ModelErrorCodes.Success, results[0].Status);
        Assert.Null(results[0].ErrorMessage);
        Assert.Equal(ModelErrorCodes.ModelAlreadyExists, results[1].Status);
        Assert.Contains(uid, results[1].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(ModelErrorCodes.InvalidArgument, results[2].Status);
        Assert.Equal(ModelErrorCodes.ModelAlreadyExists, results[3].Status); // the model exists; the definition differs
        Assert.Equal(1, service.Counters.Snapshot().ModelsBuilt);
    }

    [Fact]
    public async Task defineModel_with_an_unknown_parameter_set_fails_with_invalid_arg()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("badset");
        await h.PublishAsync(uid, ModelRequest.Define(uid, "c1", new ModelDefinition("no-such-set", 0, 1)));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the command result");
        ModelResult result = h.CommandResultsOf(uid)[0];
        Assert.Equal(ModelErrorCodes.InvalidArgument, result.Status);
        Assert.Contains("no-such-set", result.ErrorMessage, StringComparison.Ordinal);
        Assert.False(File.Exists(new ModelCheckpointStore(h.Options.CheckpointRoot).PathOf(uid)));
    }

    [Fact]
    public async Task deleteModel_drops_the_model_and_its_checkpoint_and_later_rows_have_no_model()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("delete");
        await h.StoreAsync(uid, RunnerHarness.Series(20));
        await h.PublishAsync(uid, ModelRequest.Define(uid, "c1", RunnerHarness.Definition));
        await h.WaitForScoresAsync(uid, 20);
        string file = new ModelCheckpointStore(h.Options.CheckpointRoot).PathOf(uid);
        Assert.True(File.Exists(file));

        await h.Repository.SetMetricStatusAsync(uid, MetricStatus.Unmonitored);
        await h.PublishAsync(uid, ModelRequest.Delete(uid, "c2"));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 2, "the deleteModel result");
        Assert.Equal(("deleteModel", ModelErrorCodes.Success), (h.CommandResultsOf(uid)[1].Method, h.CommandResultsOf(uid)[1].Status));
        Assert.False(File.Exists(file));

        await h.StoreAsync(uid, RunnerHarness.Series(21).AsMemory(20));
        await h.PublishRowsAsync(uid, 21, 21, perMessage: 1);
        await RunnerHarness.WaitUntilAsync(() => h.InferencesOf(uid).Exists(r => r.Rowid == 21), "the answer for row 21");
        ModelResult row = h.InferencesOf(uid).Find(r => r.Rowid == 21);
        Assert.Equal(ModelErrorCodes.NoSuchModel, row.Status);
        Assert.Contains(uid, row.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_of_a_CREATE_PENDING_metric_arriving_before_defineModel_build_the_model_from_model_params()
    {
        await using var h = await RunnerHarness.CreateAsync();
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("early", MetricStatus.CreatePending);
        await h.StoreAsync(uid, RunnerHarness.Series(60));
        await h.PublishRowsAsync(uid, 31, 60, perMessage: 30); // rows 1..30 come from the database
        await h.PublishAsync(uid, ModelRequest.Define(uid, "late", RunnerHarness.Definition));
        await h.WaitForScoresAsync(uid, 60);
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel result");
        Assert.Equal(ModelErrorCodes.Success, h.CommandResultsOf(uid)[0].Status);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), 60);
    }

    [Fact]
    public async Task A_message_that_is_not_a_model_request_is_dead_lettered_and_the_shard_goes_on()
    {
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("poison");
        await h.Bus.PublishToQueueAsync(h.QueueOf(uid), [new OutgoingMessage("garbage"u8.ToArray(), "poison-1")]);
        await h.PublishAsync(uid, ModelRequest.Define(uid, "c1", RunnerHarness.Definition));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count == 1, "the defineModel after the poison message");
        Assert.Equal(1, service.Counters.Snapshot().RejectedMessages);
        Assert.Equal(1, await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.QueueOf(uid))));
    }

    [Fact]
    public async Task A_leftover_temporary_checkpoint_is_reported_and_removed_at_start()
    {
        await using var h = await RunnerHarness.CreateAsync();
        var store = new ModelCheckpointStore(h.Options.CheckpointRoot);
        string leftover = store.PathOf("abc123") + ".tmp";
        await File.WriteAllBytesAsync(leftover, [1, 2, 3]);
        await using var service = await h.StartAsync();
        Assert.Equal(1, service.Counters.Snapshot().LeftoverTempFiles);
        Assert.False(File.Exists(leftover));
    }

    [Fact]
    public async Task A_definition_only_checkpoint_loads_as_the_fresh_model_and_is_corrupt_with_a_rowid()
    {
        string root = Path.Combine(Path.GetTempPath(), "htmengine-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var store = new ModelCheckpointStore(root);
            long size = store.SaveDefinition("fresh", RunnerHarness.Definition);
            Assert.True(size < 4096, $"a definition-only checkpoint has {size} bytes");
            Assert.True(store.TryPeekLastRowid("fresh", out long peeked));
            Assert.Equal(0, peeked);
            Assert.True(store.TryLoad("fresh", out ModelCheckpoint? checkpoint, out string? problem));
            Assert.Null(problem);
            Assert.Equal(RunnerHarness.Definition, checkpoint!.Definition);
            Assert.Equal(ModelFactory.Build(RunnerHarness.Definition).Save(), checkpoint.Model.Save());

            // The same layout claiming a scored row but carrying no model is damaged, not a fresh model.
            var writer = new HtmEngine.Core.Checkpoints.CheckpointWriter(ModelCheckpointStore.FileKind, ModelCheckpointStore.FileVersion, 256);
            writer.WriteString("claims");
            writer.WriteInt64(7);
            writer.WriteString(RunnerHarness.Definition.ToJson());
            writer.WriteSpan(ReadOnlySpan<byte>.Empty);
            await File.WriteAllBytesAsync(store.PathOf("claims"), writer.Complete());
            Assert.False(store.TryLoad("claims", out _, out problem));
            Assert.Contains("no model bytes", problem, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Checkpoint_files_round_trip_and_odd_uids_get_safe_file_names()
    {
        string root = Path.Combine(Path.GetTempPath(), "htmengine-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var store = new ModelCheckpointStore(root);
            var model = ModelFactory.Build(RunnerHarness.Definition);
            foreach (Sample s in RunnerHarness.Series(30))
            {
                model.Step(s.Timestamp, s.Value);
            }

            const string Uid = "../odd uid/é";
            long size = store.Save(Uid, 30, RunnerHarness.Definition, model);
            Assert.Equal(root, Path.GetDirectoryName(store.PathOf(Uid)));
            Assert.Equal(size, new FileInfo(store.PathOf(Uid)).Length);
            Assert.True(store.TryPeekLastRowid(Uid, out long peeked));
            Assert.Equal(30, peeked);
            Assert.True(store.TryLoad(Uid, out ModelCheckpoint? checkpoint, out string? problem));
            Assert.Null(problem);
            Assert.Equal(RunnerHarness.Definition, checkpoint!.Definition);
            Assert.Equal(model.Save(), checkpoint.Model.Save());

            // Truncated: reported, moved aside, not loaded.
            byte[] bytes = await File.ReadAllBytesAsync(store.PathOf(Uid));
            await File.WriteAllBytesAsync(store.PathOf(Uid), bytes[..(bytes.Length - 10)]);
            Assert.False(store.TryLoad(Uid, out _, out problem));
            Assert.Contains("truncated", problem, StringComparison.OrdinalIgnoreCase);
            Assert.True(File.Exists(store.PathOf(Uid) + ".corrupt"));
            Assert.False(store.TryLoad(Uid, out _, out problem));
            Assert.Null(problem);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
