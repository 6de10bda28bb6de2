using HtmEngine.Bus;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Contract;

/// <summary>The storer/adapter contract on the embedded default: a SQLite file per test and the in-process bus.</summary>
public sealed class EmbeddedStorerAdapterTests : StorerAdapterContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "htmengine-storer-" + Guid.NewGuid().ToString("N"));

    protected override async Task<(IMetricRepository Repository, IMessageBus Bus)> OpenAsync()
    {
        var options = new StorageOptions(string.Empty, 0, string.Empty, string.Empty, string.Empty, Path.Combine(_directory, "engine.db"));
        return (await MetricRepository.OpenAsync(options), new InProcessMessageBus());
    }

    protected override async Task CloseAsync(IMetricRepository repository, IMessageBus bus)
    {
        await bus.DisposeAsync();
        await repository.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact] public Task Unknown_metric_created() => Unknown_metric_is_created_unmonitored_and_its_samples_stored_with_rowids_from_1();
    [Fact] public Task Both_formats() => Both_message_formats_are_stored_and_grouped_by_metric();
    [Fact] public Task Rejections() => Duplicates_out_of_order_and_bad_lines_are_rejected_and_counted_without_losing_good_lines();
    [Fact] public Task Poison() => Poison_messages_are_dead_lettered_and_do_not_block_the_queue();
    [Fact] public Task Forwarding() => Rows_of_active_and_create_pending_metrics_go_to_their_shard_in_chunks_with_rowids();
    [Fact] public Task Error_metric_data() => Data_of_an_error_metric_is_stored_but_not_forwarded();
    [Fact] public Task Pending_data_activation() => Pending_data_metric_is_activated_at_288_rows_with_the_padded_data_range();
    [Fact] public Task Failing_repository() => A_failing_repository_delays_the_ack_and_loses_nothing();
    [Fact] public Task Refused_metric_isolated() => A_metric_the_database_refuses_costs_only_its_own_samples();
    [Fact] public Task Stop_hands_back() => A_message_not_committed_when_the_storer_stops_goes_back_to_the_queue();
    [Fact] public Task Deleted_metric_recreated() => A_metric_deleted_behind_the_cache_is_created_again();
    [Fact] public Task Create_metric() => CreateMetric_creates_once_then_reports_the_existing_uid();
    [Fact] public Task Monitor_min_max() => MonitorMetric_with_min_max_defines_the_model_create_pending();
    [Fact] public Task Monitor_by_uid_inferred() => MonitorMetric_by_uid_rewrites_the_spec_to_the_name_and_infers_min_max_from_288_rows();
    [Fact] public Task Monitor_pending_data() => MonitorMetric_without_min_max_or_enough_data_waits_in_pending_data();
    [Fact] public Task Adapter_errors() => Adapter_errors_name_what_is_wrong();
    [Fact] public Task Unmonitor() => Unmonitor_clears_the_model_and_scores_and_sends_deleteModel_and_error_recovers_through_it();
    [Fact] public Task Delete_by_name() => DeleteMetricByName_removes_the_metric_its_rows_and_its_model();
    [Fact] public Task Export_import() => Export_and_import_round_trip_the_spec_and_the_last_14_days();
    [Fact] public Task Complete_model_params() => CompleteModelParams_take_the_value_encoder_range();
    [Fact] public Task Batch_once_poison_isolated() => A_batch_is_stored_and_forwarded_once_for_all_its_messages_and_a_poison_message_costs_only_itself();
    [Fact] public Task Batch_redelivered_after_commit() => A_batch_delivered_again_after_its_commit_stores_and_forwards_nothing_twice();
    [Fact] public Task Overlapping_handler_calls() => Overlapping_handler_calls_are_taken_one_at_a_time_and_every_row_is_stored_and_forwarded_as_itself();
    [Fact] public Task Batch_stop_hands_back() => A_batch_not_committed_when_the_storer_stops_goes_back_whole_and_is_stored_once();
}
