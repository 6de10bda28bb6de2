using HtmEngine.Bus;
using HtmEngine.Storage;
using HtmEngine.Tests.Integration.Storage;

namespace HtmEngine.Tests.Integration.Runtime;

/// <summary>The anomaly service contract on the embedded default: a fresh SQLite file and the in-process bus per test.</summary>
public sealed class EmbeddedAnomalyServiceTests : AnomalyServiceContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "htmengine-anomaly-" + Guid.NewGuid().ToString("N"));

    protected override Task<IMetricRepository> OpenRepositoryAsync() =>
        MetricRepository.OpenAsync(new StorageOptions(string.Empty, 0, string.Empty, string.Empty, string.Empty, Path.Combine(_directory, "engine.db")));

    protected override Task<IMessageBus> CreateBusAsync() => Task.FromResult<IMessageBus>(new InProcessMessageBus());

    protected override Task DropRepositoryAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact] public Task Batching_invariance() => Scores_equal_the_reference_whatever_the_batching();
    [Fact] public Task Default_settings() => Default_settings_match_the_reference_past_the_skipped_day();
    [Fact] public Task Gap() => Results_after_a_gap_wait_for_the_missing_ones();
    [Fact] public Task Database_outage() => A_database_outage_is_waited_out_in_place_not_dead_lettered();
    [Fact] public Task Define_success() => Define_model_success_activates_the_metric_and_is_published();
    [Fact] public Task Define_failure() => Define_model_failure_sets_error_with_the_message();
    [Fact] public Task Delete_published() => Delete_model_result_is_published_even_for_a_deleted_metric();
    [Fact] public Task Unknown_dropped() => Results_of_unknown_or_inactive_metrics_are_dropped_and_acknowledged();
    [Fact] public Task Several_metrics_one_commit() => Results_of_several_metrics_in_one_message_are_committed_together();
    [Fact] public Task Undecodable() => Undecodable_message_is_dead_lettered_and_the_service_goes_on();
    [Fact] public Task Inference_failure() => Failed_inference_puts_the_metric_in_error();
    [Fact] public Task Model_params_kept() => Likelihood_state_keeps_the_other_members_of_model_params();
    [Fact] public Task Gc() => Gc_deletes_old_rows_but_never_the_likelihood_sample_nor_unscored_rows();
    [Fact] public Task Batch_once_bad_isolated() => A_batch_of_result_messages_is_committed_and_published_once_and_a_bad_message_costs_only_itself();
    [Fact] public Task Batch_failure_one_by_one() => A_batch_that_fails_before_its_commit_is_processed_again_one_message_at_a_time_without_loss_or_double_scoring();
    [Fact] public Task Batch_database_outage() => A_batch_that_meets_a_database_outage_waits_and_is_processed_again_whole_in_place();
    [Fact] public Task Batch_cold_histories_together() => A_batch_reads_the_histories_of_its_cold_metrics_together_and_scores_as_the_reference();
    [Fact] public Task Batch_cold_histories_capped() => Cold_histories_read_ahead_are_at_most_the_history_cache_size();
}

/// <summary>The anomaly service contract on MariaDB (a fresh database per test) and RabbitMQ from <c>tests/conf</c>.</summary>
public sealed class ServersAnomalyServiceTests : AnomalyServiceContract
{
    private readonly StorageOptions _storage = TestServers.FreshMySqlDatabase("anomaly");

    protected override Task<IMetricRepository> OpenRepositoryAsync() => MetricRepository.OpenAsync(_storage);

    protected override async Task<IMessageBus> CreateBusAsync() => await RabbitMqMessageBus.ConnectAsync(TestServers.RabbitMqOptions());

    protected override Task DropRepositoryAsync() => MySqlRepositoryFixture.DropDatabaseAsync(_storage);

    public override async Task InitializeAsync()
    {
        if (TestServers.SkipReason(TestServer.All) is not null)
        {
            return; // every test is skipped; do not touch the servers
        }

        await base.InitializeAsync();
    }

    [ServerFact(TestServer.All)] public Task Batching_invariance() => Scores_equal_the_reference_whatever_the_batching();
    [ServerFact(TestServer.All)] public Task Default_settings() => Default_settings_match_the_reference_past_the_skipped_day();
    [ServerFact(TestServer.All)] public Task Gap() => Results_after_a_gap_wait_for_the_missing_ones();
    [ServerFact(TestServer.All)] public Task Database_outage() => A_database_outage_is_waited_out_in_place_not_dead_lettered();
    [ServerFact(TestServer.All)] public Task Define_success() => Define_model_success_activates_the_metric_and_is_published();
    [ServerFact(TestServer.All)] public Task Define_failure() => Define_model_failure_sets_error_with_the_message();
    [ServerFact(TestServer.All)] public Task Delete_published() => Delete_model_result_is_published_even_for_a_deleted_metric();
    [ServerFact(TestServer.All)] public Task Unknown_dropped() => Results_of_unknown_or_inactive_metrics_are_dropped_and_acknowledged();
    [ServerFact(TestServer.All)] public Task Several_metrics_one_commit() => Results_of_several_metrics_in_one_message_are_committed_together();
    [ServerFact(TestServer.All)] public Task Undecodable() => Undecodable_message_is_dead_lettered_and_the_service_goes_on();
    [ServerFact(TestServer.All)] public Task Inference_failure() => Failed_inference_puts_the_metric_in_error();
    [ServerFact(TestServer.All)] public Task Model_params_kept() => Likelihood_state_keeps_the_other_members_of_model_params();
    [ServerFact(TestServer.All)] public Task Gc() => Gc_deletes_old_rows_but_never_the_likelihood_sample_nor_unscored_rows();
    [ServerFact(TestServer.All)] public Task Batch_once_bad_isolated() => A_batch_of_result_messages_is_committed_and_published_once_and_a_bad_message_costs_only_itself();
    [ServerFact(TestServer.All)] public Task Batch_failure_one_by_one() => A_batch_that_fails_before_its_commit_is_processed_again_one_message_at_a_time_without_loss_or_double_scoring();
    [ServerFact(TestServer.All)] public Task Batch_database_outage() => A_batch_that_meets_a_database_outage_waits_and_is_processed_again_whole_in_place();
    [ServerFact(TestServer.All)] public Task Batch_cold_histories_together() => A_batch_reads_the_histories_of_its_cold_metrics_together_and_scores_as_the_reference();
    [ServerFact(TestServer.All)] public Task Batch_cold_histories_capped() => Cold_histories_read_ahead_are_at_most_the_history_cache_size();
}
