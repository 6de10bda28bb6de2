using System.Text.Json.Nodes;
using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Storer;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Contract;

/// <summary>
/// What the metric storer and the datasource adapter must do on any backend. Derived classes supply the repository
/// and the bus (embedded: SQLite file + in-process bus; servers: MariaDB + RabbitMQ) and wrap each case in a fact.
/// </summary>
public abstract partial class StorerAdapterContract
{
    protected static readonly long T0 = 1_400_000_000;

    protected abstract Task<(IMetricRepository Repository, IMessageBus Bus)> OpenAsync();

    protected virtual Task CloseAsync(IMetricRepository repository, IMessageBus bus) => Task.CompletedTask;

    private async Task RunAsync(Func<EngineHarness, Task> test)
    {
        var (repository, bus) = await OpenAsync();
        try
        {
            await using var harness = await EngineHarness.CreateAsync(repository, bus);
            await test(harness);
        }
        finally
        {
            await CloseAsync(repository, bus);
        }
    }

    private static DateTime At(long seconds) => DateTime.UnixEpoch.AddSeconds(seconds);

    private static JsonObject Spec(string metric, double? min = null, double? max = null, string? resource = null)
    {
        var metricSpec = new JsonObject { ["metric"] = metric, ["unit"] = "Count", ["userInfo"] = new JsonObject { ["team"] = "x" } };
        if (resource is not null)
        {
            metricSpec["resource"] = resource;
        }

        var spec = new JsonObject { ["datasource"] = "custom", ["metricSpec"] = metricSpec };
        if (min is not null)
        {
            spec["modelParams"] = new JsonObject { ["min"] = min, ["max"] = max };
        }

        return spec;
    }

    // ------------------------------------------------------------------ storer

    protected Task Unknown_metric_is_created_unmonitored_and_its_samples_stored_with_rowids_from_1() => RunAsync(async h =>
    {
        var storer = await h.StartStorerAsync();
        var name = h.Name("created");
        await h.PublishLinesAsync(EngineHarness.Lines(name, 5, T0, 10));

        var metric = await h.WaitForRowsAsync(name, 5);
        Assert.Equal("custom", metric.Datasource);
        Assert.Equal("Custom metric " + name, metric.Description);
        Assert.Equal(name, metric.Server);
        Assert.Equal(string.Empty, metric.Location);
        Assert.Equal(300, metric.PollInterval);
        Assert.Equal(MetricStatus.Unmonitored, metric.Status);
        Assert.Null(metric.Parameters);
        Assert.Equal(5, metric.LastRowid);
        var rows = await h.RowsAsync(metric.Uid);
        Assert.Equal([1L, 2, 3, 4, 5], rows.Select(r => r.Rowid));
        Assert.Equal([10.0, 11, 12, 13, 14], rows.Select(r => r.MetricValue));
        Assert.Equal(At(T0 + 300), rows[1].Timestamp);
        Assert.Null(rows[0].RawAnomalyScore);
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 1, "the ack");
        Assert.Equal(1, storer.Counters.MetricsCreated);
        Assert.Equal(5, storer.Counters.SamplesStored);
        Assert.Empty(h.Requests()); // UNMONITORED: nothing goes to a model
        Assert.Equal(0, await h.Bus.GetReadyCountAsync(h.DataQueue));
    });

    protected Task Both_message_formats_are_stored_and_grouped_by_metric() => RunAsync(async h =>
    {
        var storer = await h.StartStorerAsync();
        string a = h.Name("fmt.a"), b = h.Name("fmt.b");
        await h.PublishBinaryAsync((a, 1, T0), (b, 100, T0), (a, 2, T0 + 60), (b, 101, T0 + 60));
        await h.PublishLinesAsync($"{a} 3 {T0 + 120}", $"{b} 102 {T0 + 120}");

        var ma = await h.WaitForRowsAsync(a, 3);
        var mb = await h.WaitForRowsAsync(b, 3);
        Assert.Equal([1.0, 2, 3], (await h.RowsAsync(ma.Uid)).Select(r => r.MetricValue));
        Assert.Equal([100.0, 101, 102], (await h.RowsAsync(mb.Uid)).Select(r => r.MetricValue));
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 2, "two acks");
        Assert.Equal(2, storer.Counters.MetricsCreated);
    });

    protected Task Duplicates_out_of_order_and_bad_lines_are_rejected_and_counted_without_losing_good_lines() => RunAsync(async h =>
    {
        var storer = await h.StartStorerAsync();
        var name = h.Name("reject");
        await h.PublishLinesAsync(
            $"{name} 1 {T0}",
            $"{name} 2 {T0 + 60}",
            $"{name} 2.5 {T0 + 60}",          // duplicate timestamp
            "just_one_field",                  // too few fields
            $"{name} 3 {T0 + 30}",             // older than the previous sample
            $"{name} notanumber {T0 + 90}",   // bad value
            $"{name} 4 {T0 + 120}");
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 1, "the first message");
        await h.PublishLinesAsync($"{name} 9 {T0 + 120}", $"{name} 5 {T0 + 180}"); // re-delivered sample, then a new one
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 2, "the second message");

        var metric = await h.MetricAsync(name);
        var rows = await h.RowsAsync(metric.Uid);
        Assert.Equal([1.0, 2, 4, 5], rows.Select(r => r.MetricValue));
        Assert.Equal([1L, 2, 3, 4], rows.Select(r => r.Rowid));
        Assert.Equal(2, storer.Counters.Rejected(StorerRejectReason.Duplicate));
        Assert.Equal(1, storer.Counters.Rejected(StorerRejectReason.OutOfOrder));
        Assert.Equal(2, storer.Counters.Rejected(StorerRejectReason.BadLine));
        Assert.Equal(1, storer.Counters.RejectedLines(GraphiteRejectReason.TooFewFields));
        Assert.Equal(1, storer.Counters.RejectedLines(GraphiteRejectReason.BadValue));
        Assert.Equal(4, storer.Counters.SamplesStored);
        Assert.Equal(0, storer.Counters.MessagesDeadLettered);
    });

    protected Task Poison_messages_are_dead_lettered_and_do_not_block_the_queue() => RunAsync(async h =>
    {
        var storer = await h.StartStorerAsync();
        var name = h.Name("after.poison");
        await h.PublishRawAsync("{not json"u8.ToArray(), null);
        await h.PublishRawAsync("""{"protocol": "pickle", "data": []}"""u8.ToArray(), "application/json");
        await h.PublishRawAsync([1, 2, 3], SampleBatchCodec.ContentType);
        await h.PublishRawAsync("x"u8.ToArray(), "text/csv");
        await h.PublishLinesAsync($"{name} 1 {T0}");

        await h.WaitForRowsAsync(name, 1);
        await EngineHarness.WaitUntilAsync(async () => await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.DataQueue)) == 4, "4 dead letters");
        Assert.Equal(4, storer.Counters.MessagesDeadLettered);
        Assert.Equal(5, storer.Counters.Messages);
    });

    protected Task Rows_of_active_and_create_pending_metrics_go_to_their_shard_in_chunks_with_rowids() => RunAsync(async h =>
    {
        string active = h.Name("fwd.active"), pending = h.Name("fwd.pending"), unmonitored = h.Name("fwd.unmonitored");
        var uidActive = (await h.Repository.GetOrCreateCustomMetricAsync(active)).Metric.Uid;
        var uidPending = (await h.Repository.GetOrCreateCustomMetricAsync(pending)).Metric.Uid;
        await h.Repository.SetMetricStatusAsync(uidActive, MetricStatus.Active);
        await h.Repository.SetMetricStatusAsync(uidPending, MetricStatus.CreatePending);
        var storer = await h.StartStorerAsync(options: h.StorerOptions with { ChunkSize = 3 });

        await h.PublishLinesAsync([.. EngineHarness.Lines(active, 4, T0, 1), .. EngineHarness.Lines(pending, 2, T0, 50), .. EngineHarness.Lines(unmonitored, 2, T0)]);
        await h.PublishLinesAsync(EngineHarness.Lines(active, 3, T0 + 10_000, 7));

        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uidActive).Count == 7 && h.RequestsFor(uidPending).Count == 2, "forwarded rows");
        var rows = h.RequestsOn(h.ShardOf(uidActive)).Where(r => r.MetricUid == uidActive).ToList();
        Assert.All(rows, r => Assert.Equal(ModelRequestKind.Row, r.Kind));
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], rows.Select(r => r.Rowid));
        Assert.Equal([1.0, 2, 3, 4, 7, 8, 9], rows.Select(r => r.Value));
        Assert.Equal(At(T0 + 300), rows[1].Timestamp);
        Assert.Equal(DateTimeKind.Utc, rows[1].Timestamp.Kind);
        Assert.Equal([1L, 2], h.RequestsOn(h.ShardOf(uidPending)).Where(r => r.MetricUid == uidPending).Select(r => r.Rowid));
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 2, "acks");
        Assert.Equal(9, storer.Counters.RowsForwarded);
        var unmonitoredUid = (await h.MetricAsync(unmonitored)).Uid;
        Assert.Empty(h.RequestsFor(unmonitoredUid));
    });

    protected Task Data_of_an_error_metric_is_stored_but_not_forwarded() => RunAsync(async h =>
    {
        var name = h.Name("error");
        var uid = (await h.Repository.GetOrCreateCustomMetricAsync(name)).Metric.Uid;
        await h.Repository.SetMetricStatusAsync(uid, MetricStatus.Error, "model failed");
        var storer = await h.StartStorerAsync();
        await h.PublishLinesAsync(EngineHarness.Lines(name, 3, T0));

        await h.WaitForRowsAsync(name, 3);
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 1, "the ack");
        Assert.Empty(h.RequestsFor(uid));
        Assert.Equal(MetricStatus.Error, (await h.MetricAsync(name)).Status);
    });

    protected Task Pending_data_metric_is_activated_at_288_rows_with_the_padded_data_range() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("pending");
        var uid = await adapter.MonitorMetricAsync(Spec(name));
        Assert.Equal(MetricStatus.PendingData, (await h.MetricAsync(name)).Status);
        var storer = await h.StartStorerAsync();

        await h.PublishLinesAsync(EngineHarness.Lines(name, 287, T0, 100));
        await h.WaitForRowsAsync(name, 287);
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 1, "the first ack");
        Assert.Equal(MetricStatus.PendingData, (await h.MetricAsync(name)).Status);
        Assert.Empty(h.RequestsFor(uid));

        await h.PublishLinesAsync(EngineHarness.Lines(name, 2, T0 + (287 * 300), 387));
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 1, "defineModel");
        var define = h.RequestsFor(uid)[0];
        Assert.Equal(ModelRequestKind.DefineModel, define.Kind);
        var definition = ModelDefinition.FromJson(define.Arguments!);
        Assert.Equal(100 - (288 * 0.2), definition.Min, 9); // data 100..388, padded by 20 % of the range
        Assert.Equal(388 + (288 * 0.2), definition.Max, 9);
        Assert.Equal("nab", definition.ParameterSet);
        var metric = await h.MetricAsync(name);
        Assert.Equal(MetricStatus.CreatePending, metric.Status);
        Assert.Equal(definition, ModelDefinition.FromJson(JsonNode.Parse(metric.ModelParams!)!["modelDefinition"]!.ToJsonString()));
        // The storer counts the activation after the adapter call that published the define returns.
        await EngineHarness.WaitUntilAsync(() => storer.Counters.Activations == 1, "the activation count");

        // From now on the rows go to the model (the earlier ones are read back by the runner's catch-up).
        await h.PublishLinesAsync($"{name} 1 {T0 + (289 * 300)}");
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 2, "the next row");
        Assert.Equal(290, h.RequestsFor(uid)[1].Rowid);
    });

    protected Task A_failing_repository_delays_the_ack_and_loses_nothing() => RunAsync(async h =>
    {
        var (flaky, control) = FlakyRepository.Wrap(h.Repository);
        control.Failing[nameof(IMetricRepository.StoreSampleBatchAsync)] = 3;
        var storer = await h.StartStorerAsync(flaky);
        var name = h.Name("flaky");
        await h.PublishLinesAsync(EngineHarness.Lines(name, 4, T0));
        await h.PublishLinesAsync(EngineHarness.Lines(name, 4, T0 + 10_000, 4));

        var metric = await h.WaitForRowsAsync(name, 8);
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 2, "two acks");
        Assert.Equal([0.0, 1, 2, 3, 4, 5, 6, 7], (await h.RowsAsync(metric.Uid)).Select(r => r.MetricValue));
        Assert.Equal(3, control.Failures);
        Assert.Equal(3, storer.Counters.Retries);
        Assert.Equal(0, storer.Counters.Rejected(StorerRejectReason.OutOfOrder));
        Assert.Equal(0, await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.DataQueue)));
    });

    protected Task A_metric_the_database_refuses_costs_only_its_own_samples() => RunAsync(async h =>
    {
        var (flaky, control) = FlakyRepository.Wrap(h.Repository);
        control.Transient = false;
        control.Failing[nameof(IMetricRepository.StoreSampleBatchAsync)] = 2; // the whole batch, then the first metric alone
        var storer = await h.StartStorerAsync(flaky);
        string refused = h.Name("refused"), fine = h.Name("fine");
        await h.PublishLinesAsync([.. EngineHarness.Lines(refused, 2, T0), .. EngineHarness.Lines(fine, 3, T0)]);

        var metric = await h.WaitForRowsAsync(fine, 3);
        await EngineHarness.WaitUntilAsync(() => storer.Counters.MessagesAcked == 1, "the ack");
        Assert.Equal(3, (await h.RowsAsync(metric.Uid)).Count);
        Assert.Equal(0, await h.Repository.GetMetricDataCountAsync((await h.MetricAsync(refused)).Uid));
        Assert.Equal(2, storer.Counters.Rejected(StorerRejectReason.MetricFailed));
        Assert.Equal(0, storer.Counters.Retries);
    });

    protected Task A_message_not_committed_when_the_storer_stops_goes_back_to_the_queue() => RunAsync(async h =>
    {
        var (flaky, control) = FlakyRepository.Wrap(h.Repository);
        control.Failing[nameof(IMetricRepository.StoreSampleBatchAsync)] = int.MaxValue;
        var first = new MetricStorerService(flaky, h.Bus, h.StorerOptions);
        await first.StartAsync(CancellationToken.None);
        var name = h.Name("handback");
        await h.PublishLinesAsync(EngineHarness.Lines(name, 3, T0));
        await EngineHarness.WaitUntilAsync(() => control.Failures >= 2, "failed attempts");

        using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await first.StopAsync(timeout.Token);
        }

        await first.DisposeAsync();
        Assert.Equal(0, first.Counters.MessagesAcked);
        await EngineHarness.WaitUntilAsync(async () => await h.Bus.GetReadyCountAsync(h.DataQueue) == 1, "the message back in the queue");

        var second = await h.StartStorerAsync();
        var metric = await h.WaitForRowsAsync(name, 3);
        await EngineHarness.WaitUntilAsync(() => second.Counters.MessagesAcked == 1, "the ack");
        Assert.Equal(3, (await h.RowsAsync(metric.Uid)).Count);
        Assert.Equal(0, await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.DataQueue)));
    });

    protected Task A_metric_deleted_behind_the_cache_is_created_again() => RunAsync(async h =>
    {
        var storer = await h.StartStorerAsync();
        var name = h.Name("recreated");
        await h.PublishLinesAsync(EngineHarness.Lines(name, 2, T0));
        var before = await h.WaitForRowsAsync(name, 2);
        await h.Repository.DeleteMetricAsync(before.Uid);

        await h.PublishLinesAsync(EngineHarness.Lines(name, 2, T0 + 10_000));
        var after = await h.WaitForRowsAsync(name, 2);
        Assert.NotEqual(before.Uid, after.Uid);
        Assert.Equal([1L, 2], (await h.RowsAsync(after.Uid)).Select(r => r.Rowid));
        Assert.Equal(2, storer.Counters.MetricsCreated);
    });

    // ------------------------------------------------------------------ adapter

    protected Task CreateMetric_creates_once_then_reports_the_existing_uid() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("create");
        var uid = await adapter.CreateMetricAsync(name);
        var row = await h.Repository.GetMetricAsync(uid);
        Assert.Equal(name, row.Name);
        Assert.Equal(MetricStatus.Unmonitored, row.Status);
        Assert.Equal(300, row.PollInterval);

        var e = await Assert.ThrowsAsync<MetricAlreadyExistsException>(() => adapter.CreateMetricAsync(name));
        Assert.Equal(uid, e.Uid);
        Assert.Equal(HtmEngineErrorCode.ModelAlreadyExists, e.ErrorCode);
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidRequestException>(() => adapter.CreateMetricAsync(""));
    });

    protected Task MonitorMetric_with_min_max_defines_the_model_create_pending() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("monitor");
        var uid = await adapter.MonitorMetricAsync(Spec(name, 0, 100, resource: "server-7"));

        var metric = await h.Repository.GetMetricAsync(uid);
        Assert.Equal(MetricStatus.CreatePending, metric.Status);
        Assert.Equal("server-7", metric.Server);
        var parameters = JsonNode.Parse(metric.Parameters!)!;
        Assert.Equal(name, (string?)parameters["metricSpec"]!["metric"]);
        Assert.Equal("x", (string?)parameters["metricSpec"]!["userInfo"]!["team"]);
        Assert.Contains("\n  ", metric.Parameters!, StringComparison.Ordinal); // pretty-printed as the original stored it
        var modelParams = JsonNode.Parse(metric.ModelParams!)!.AsObject();
        Assert.True(modelParams.ContainsKey("anomalyLikelihood"));
        var definition = ModelDefinition.FromJson(modelParams["modelDefinition"]!.ToJsonString());
        Assert.Equal(new ModelDefinition("nab", 0, 100), definition); // user-given min/max are used unpadded

        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 1, "defineModel");
        var define = h.RequestsOn(h.ShardOf(uid)).Single(r => r.MetricUid == uid);
        Assert.Equal(ModelRequestKind.DefineModel, define.Kind);
        Assert.Equal(definition, ModelDefinition.FromJson(define.Arguments!));
        Assert.False(string.IsNullOrEmpty(define.CommandId));

        var again = await Assert.ThrowsAsync<MetricAlreadyMonitoredException>(() => adapter.MonitorMetricAsync(Spec(name, 0, 100)));
        Assert.Equal(uid, again.Uid);
    });

    protected Task MonitorMetric_by_uid_rewrites_the_spec_to_the_name_and_infers_min_max_from_288_rows() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("byuid");
        var uid = await adapter.CreateMetricAsync(name);
        var samples = Enumerable.Range(0, 288).Select(i => new Sample(At(T0 + (i * 300L)), 5000 + (i % 2 * 2000))).ToArray();
        await h.Repository.StoreSampleBatchAsync([new MetricSamples(uid, samples)]);

        var spec = JsonNode.Parse($$$"""{"datasource": "custom", "metricSpec": {"uid": "{{{uid}}}"}, "modelParams": {"minResolution": 0.5}}""")!.AsObject();
        Assert.Equal(uid, await adapter.MonitorMetricAsync(spec));

        var metric = await h.Repository.GetMetricAsync(uid);
        Assert.Equal(MetricStatus.CreatePending, metric.Status);
        var stored = JsonNode.Parse(metric.Parameters!)!["metricSpec"]!.AsObject();
        Assert.Equal(name, (string?)stored["metric"]);
        Assert.False(stored.ContainsKey("uid"));
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 1, "defineModel");
        var definition = ModelDefinition.FromJson(h.RequestsFor(uid)[0].Arguments!);
        Assert.Equal(4600, definition.Min, 9); // spec §4.8: data 5000..7000 → 4600..7400
        Assert.Equal(7400, definition.Max, 9);
        Assert.Equal(0.5, definition.MinResolution);
    });

    protected Task MonitorMetric_without_min_max_or_enough_data_waits_in_pending_data() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("nodata");
        var uid = await adapter.CreateMetricAsync(name);
        await h.Repository.StoreSampleBatchAsync([new MetricSamples(uid, new[] { new Sample(At(T0), 1) })]);

        Assert.Equal(uid, await adapter.MonitorMetricAsync(Spec(name)));
        var metric = await h.Repository.GetMetricAsync(uid);
        Assert.Equal(MetricStatus.PendingData, metric.Status);
        Assert.NotNull(metric.Parameters);
        Assert.Null(metric.ModelParams);
        Assert.Empty(h.RequestsFor(uid));
        await Assert.ThrowsAsync<MetricAlreadyMonitoredException>(() => adapter.MonitorMetricAsync(Spec(name)));

        // activateModel infers the range from whatever data there is.
        await adapter.ActivateModelAsync(uid);
        Assert.Equal(MetricStatus.CreatePending, (await h.Repository.GetMetricAsync(uid)).Status);
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 1, "defineModel");
        Assert.Equal(new ModelDefinition("nab", 1, 2), ModelDefinition.FromJson(h.RequestsFor(uid)[0].Arguments!));

        // Activating a CREATE_PENDING or ACTIVE metric changes nothing.
        await adapter.ActivateModelAsync(uid);
        await h.Repository.SetMetricStatusAsync(uid, MetricStatus.Active);
        await adapter.ActivateModelAsync(uid);
        Assert.Equal(MetricStatus.Active, (await h.Repository.GetMetricAsync(uid)).Status);
        await Task.Delay(200);
        Assert.Single(h.RequestsFor(uid));
    });

    protected Task Adapter_errors_name_what_is_wrong() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("errors");

        async Task<InvalidRequestException> Invalid(string json)
        {
            var e = await Assert.ThrowsAsync<InvalidRequestException>(() => adapter.MonitorMetricAsync(json));
            Assert.Equal(HtmEngineErrorCode.InvalidArgument, e.ErrorCode);
            return e;
        }

        Assert.Contains("min and max", (await Invalid($$$"""{"datasource":"custom","metricSpec":{"metric":"{{{name}}}"},"modelParams":{"min":1}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("Neither uid nor metric", (await Invalid("""{"datasource":"custom","metricSpec":{"unit":"x"}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("either modelParams or completeModelParams", (await Invalid($$$"""{"datasource":"custom","metricSpec":{"metric":"{{{name}}}"},"modelParams":{},"completeModelParams":{}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("inferenceArgs must be specified", (await Invalid($$$"""{"datasource":"custom","metricSpec":{"metric":"{{{name}}}"},"completeModelParams":{"modelConfig":{},"timestampFieldName":"c0","valueFieldName":"c1"}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("predictedField must match", (await Invalid($$$"""{"datasource":"custom","metricSpec":{"metric":"{{{name}}}"},"completeModelParams":{"modelConfig":{},"inferenceArgs":{"predictedField":"c9"},"timestampFieldName":"c0","valueFieldName":"c1"}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("'color'", (await Invalid($$$"""{"datasource":"custom","metricSpec":{"metric":"{{{name}}}","color":"red"}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("datasource", (await Invalid($$$"""{"datasource":"cloudwatch","metricSpec":{"metric":"{{{name}}}"}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("min (5)", (await Invalid($$$"""{"datasource":"custom","metricSpec":{"metric":"{{{name}}}"},"modelParams":{"min":5,"max":1}}""")).Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", (await Invalid("{")).Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<MetricNotFoundException>(() => h.Repository.GetCustomMetricByNameAsync(name)); // nothing was created

        var missing = await Assert.ThrowsAsync<ObjectNotFoundException>(() => adapter.MonitorMetricAsync("""{"datasource":"custom","metricSpec":{"uid":"0123456789abcdef0123456789abcdef"}}"""));
        Assert.Equal(HtmEngineErrorCode.NoSuchModel, missing.ErrorCode);
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => adapter.UnmonitorMetricAsync("0123456789abcdef0123456789abcdef"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => adapter.ActivateModelAsync("0123456789abcdef0123456789abcdef"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => adapter.ExportModelAsync("0123456789abcdef0123456789abcdef"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => adapter.DeleteMetricByNameAsync(h.Name("never")));

        var other = await h.Repository.CreateMetricAsync(new NewMetric(h.Name("cloudwatch"), "cloudwatch"));
        await Assert.ThrowsAsync<MetricNotSupportedException>(() => adapter.MonitorMetricAsync($$$"""{"datasource":"custom","metricSpec":{"uid":"{{{other.Uid}}}"}}"""));
        await Assert.ThrowsAsync<MetricNotSupportedException>(() => adapter.ActivateModelAsync(other.Uid));

        var empty = await adapter.CreateMetricAsync(name);
        await Assert.ThrowsAsync<MetricStatisticsNotReadyException>(() => adapter.ActivateModelAsync(empty));
        await Assert.ThrowsAsync<MetricNotMonitoredException>(() => adapter.ExportModelAsync(empty));
        await h.Repository.SetMetricStatusAsync(empty, MetricStatus.Error, "boom");
        var status = await Assert.ThrowsAsync<MetricStatusChangedException>(() => adapter.ActivateModelAsync(empty));
        Assert.Contains("ERROR", status.Message, StringComparison.Ordinal);
    });

    protected Task Unmonitor_clears_the_model_and_scores_and_sends_deleteModel_and_error_recovers_through_it() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("unmonitor");
        var uid = await adapter.MonitorMetricAsync(Spec(name, 0, 10));
        await h.Repository.StoreSampleBatchAsync([new MetricSamples(uid, new[] { new Sample(At(T0), 1), new Sample(At(T0 + 60), 2) })]);
        await h.Repository.UpdateScoresAsync(uid, new[] { new ScoreUpdate(1, 0.5, 0.25, 3), new ScoreUpdate(2, 0.5, 0.25, 3) });
        await h.Repository.SetMetricStatusAsync(uid, MetricStatus.Error, "model failed", MetricStatus.CreatePending);

        await adapter.UnmonitorMetricAsync(uid);
        var metric = await h.Repository.GetMetricAsync(uid);
        Assert.Equal(MetricStatus.Unmonitored, metric.Status);
        Assert.Null(metric.Parameters);
        Assert.Null(metric.ModelParams);
        Assert.Null(metric.Message);
        var rows = await h.RowsAsync(uid);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Null(r.AnomalyScore));
        Assert.All(rows, r => Assert.Null(r.RawAnomalyScore));
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 2, "deleteModel");
        Assert.Equal([ModelRequestKind.DefineModel, ModelRequestKind.DeleteModel], h.RequestsFor(uid).Select(r => r.Kind));

        // ERROR → unmonitor → monitor again.
        Assert.Equal(uid, await adapter.MonitorMetricAsync(Spec(name, 0, 20)));
        Assert.Equal(MetricStatus.CreatePending, (await h.Repository.GetMetricAsync(uid)).Status);
    });

    protected Task DeleteMetricByName_removes_the_metric_its_rows_and_its_model() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        string monitored = h.Name("del.monitored"), plain = h.Name("del.plain");
        var uid = await adapter.MonitorMetricAsync(Spec(monitored, 0, 10));
        await h.Repository.StoreSampleBatchAsync([new MetricSamples(uid, new[] { new Sample(At(T0), 1) })]);
        var plainUid = await adapter.CreateMetricAsync(plain);

        await adapter.DeleteMetricByNameAsync(monitored);
        await adapter.DeleteMetricByNameAsync(plain);
        await Assert.ThrowsAsync<MetricNotFoundException>(() => h.Repository.GetMetricAsync(uid));
        await Assert.ThrowsAsync<MetricNotFoundException>(() => h.Repository.GetMetricAsync(plainUid));
        Assert.Equal(0, await h.Repository.GetMetricDataCountAsync(uid));
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 2, "deleteModel");
        Assert.Equal(ModelRequestKind.DeleteModel, h.RequestsFor(uid)[1].Kind);
        Assert.Empty(h.RequestsFor(plainUid)); // never monitored: no model to delete
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => adapter.DeleteMetricByNameAsync(monitored));
    });

    protected Task Export_and_import_round_trip_the_spec_and_the_last_14_days() => RunAsync(async h =>
    {
        var now = new DateTimeOffset(2024, 6, 15, 12, 0, 0, TimeSpan.Zero);
        var adapter = h.Adapter(new FixedClock(now));
        var name = h.Name("export");
        var uid = await adapter.MonitorMetricAsync(Spec(name, 0, 10, resource: "host-1"));
        var old = now.UtcDateTime.AddDays(-20);
        var recent = now.UtcDateTime.AddDays(-1);
        await h.Repository.StoreSampleBatchAsync([new MetricSamples(uid, new[] { new Sample(old, 1), new Sample(recent, 2), new Sample(recent.AddMinutes(5), 3) })]);

        var export = await adapter.ExportModelAsync(uid);
        Assert.Equal("custom", (string?)export["datasource"]);
        Assert.Equal(name, (string?)export["metricSpec"]!["metric"]);
        var data = export["data"]!.AsArray();
        Assert.Equal(2, data.Count);
        Assert.Equal(2.0, (double)data[0]![0]!);
        Assert.Equal(recent.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), (string?)data[0]![1]);

        // Import elsewhere: a new metric gets the data and the model.
        await adapter.DeleteMetricByNameAsync(name);
        var imported = await adapter.ImportModelAsync(export);
        Assert.NotEqual(uid, imported);
        var metric = await h.Repository.GetMetricAsync(imported);
        Assert.Equal(name, metric.Name);
        Assert.Equal(MetricStatus.CreatePending, metric.Status);
        Assert.Equal("host-1", metric.Server);
        Assert.Equal([2.0, 3], (await h.RowsAsync(imported)).Select(r => r.MetricValue));
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(imported).Count == 1, "defineModel");

        // Importing onto a monitored metric is a no-op.
        Assert.Equal(imported, await adapter.ImportModelAsync(export));
        Assert.Equal(2, await h.Repository.GetMetricDataCountAsync(imported));
        var bad = (JsonObject)export.DeepClone();
        bad["data"] = new JsonArray(new JsonArray(1, 2));
        bad["metricSpec"]!["metric"] = h.Name("bad.import");
        await Assert.ThrowsAsync<InvalidRequestException>(() => adapter.ImportModelAsync(bad));
    });

    protected Task CompleteModelParams_take_the_value_encoder_range() => RunAsync(async h =>
    {
        var adapter = h.Adapter();
        var name = h.Name("complete");
        var uid = await adapter.MonitorMetricAsync($$$"""
            {"datasource": "custom", "metricSpec": {"metric": "{{{name}}}"},
             "completeModelParams": {
               "modelConfig": {"modelParams": {"sensorParams": {"encoders": {"c1": {"fieldname": "c1", "name": "c1", "minval": -5, "maxval": 45, "type": "ScalarEncoder"} } } } },
               "inferenceArgs": {"predictedField": "c1"}, "timestampFieldName": "c0", "valueFieldName": "c1"}}
            """);
        Assert.Equal(MetricStatus.CreatePending, (await h.Repository.GetMetricAsync(uid)).Status);
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uid).Count == 1, "defineModel");
        var definition = ModelDefinition.FromJson(h.RequestsFor(uid)[0].Arguments!);
        Assert.Equal((-5.0, 45.0), (definition.Min, definition.Max));
    });

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
