using HtmEngine.Bus;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Models;

/// <summary>A message whose results cannot be published is retried without losing or changing any score.</summary>
public sealed class ModelRunnerFailureTests
{
    [Fact]
    public async Task Failed_result_publishes_are_retried_and_every_row_still_gets_its_bare_model_score()
    {
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        var flaky = new FlakyBus(h.Bus, h.Options.ResultsQueue, failOnPublishes: [2, 4, 5, 9]);
        h.ServiceBus = flaky;
        h.Options = h.Options with { CheckpointEveryRows = 30, ChunkSize = 25 };
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("flaky");
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await RunnerHarness.WaitUntilAsync(() => h.CommandResultsOf(uid).Count >= 1, "the defineModel result");
        Sample[] series = RunnerHarness.Series(300);
        for (int i = 0; i < 300; i += 60)
        {
            await h.StoreAsync(uid, series.AsMemory(i, 60));
            await h.PublishRowsAsync(uid, i + 1, i + 60, perMessage: 60);
        }

        await h.WaitForScoresAsync(uid, 300);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), 300);
        Assert.Equal(4, flaky.Failures);
        Assert.True(service.Counters.Snapshot().FailedMessages >= 4);
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_database_outage_is_waited_out_in_place_and_the_message_is_not_dead_lettered()
    {
        // More outages than MaxFailedAttempts (5): counted as failures, they would dead-letter the defineModel command
        // and leave the stored rows unscored (issue #7).
        const int Outages = 7;
        await using var h = await RunnerHarness.CreateAsync(shards: 1);
        var (repository, outage) = OutageRepository.Wrap(h.Repository, Outages, nameof(IMetricRepository.GetMetricAsync));
        h.ServiceRepository = repository;
        await using var service = await h.StartAsync();
        string uid = await h.CreateMetricAsync("outage");
        Sample[] series = RunnerHarness.Series(120);
        await h.StoreAsync(uid, series);

        // defineModel looks the metric up to catch up its stored rows: that look-up meets the outage.
        await h.PublishAsync(uid, ModelRequest.Define(uid, "d", RunnerHarness.Definition));
        await h.WaitForScoresAsync(uid, 120);
        h.AssertScoresEqual(uid, await h.ReferenceScoresAsync(uid), 120);
        Assert.Equal(Outages, outage.Failures);
        Assert.Equal(0, service.Counters.Snapshot().FailedMessages);
        Assert.Equal(0, await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.QueueOf(uid))));
        Assert.Contains("the database is unreachable (outage 7 for message", h.Logs.ToString(), StringComparison.Ordinal);
        await service.StopAsync(CancellationToken.None);
    }

    /// <summary>Delegates to a bus but makes chosen publishes to one queue fail (1-based count of publishes to it).</summary>
    private sealed class FlakyBus(IMessageBus inner, string queue, int[] failOnPublishes) : ForwardingBus(inner)
    {
        private int _publishes;

        public int Failures { get; private set; }

        public override ValueTask PublishToQueueAsync(string target, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
        {
            if (target == queue && Array.IndexOf(failOnPublishes, Interlocked.Increment(ref _publishes)) >= 0)
            {
                Failures++;
                throw new IOException("injected publish failure");
            }

            return Inner.PublishToQueueAsync(target, messages, cancellationToken);
        }

    }
}
