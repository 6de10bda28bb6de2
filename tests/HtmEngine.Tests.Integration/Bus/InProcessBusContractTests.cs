using HtmEngine.Bus;

namespace HtmEngine.Tests.Integration.Bus;

/// <summary>The shared bus contract on the in-process bus (no servers needed).</summary>
public sealed class InProcessBusContractTests : BusContract
{
    protected override Task<IMessageBus> CreateBusAsync() => Task.FromResult<IMessageBus>(new InProcessMessageBus(queueCapacity: 1000));

    [Fact] public Task Order_ids_headers() => Published_batch_is_consumed_in_order_with_ids_and_headers();
    [Fact] public Task Ack() => Acknowledged_messages_are_not_delivered_again();
    [Fact] public Task Retry_redelivers() => Failed_message_is_redelivered_with_its_failure_count();
    [Fact] public Task Poison_dead_letters() => Poison_message_goes_to_the_dead_letter_queue_after_N_failures_and_does_not_block_others();
    [Fact] public Task DeadLetter_outcome() => Handler_outcome_DeadLetter_moves_the_message_at_once();
    [Fact] public Task Prefetch() => Prefetch_bounds_the_unsettled_deliveries();
    [Fact] public Task Dispose_returns_unsettled() => Disposing_a_subscription_returns_unsettled_messages();
    [Fact] public Task Queue_deletion_cancels() => Deleting_the_queue_cancels_the_consumer();
    [Fact] public Task Missing_queue() => Publishing_to_a_missing_queue_throws_QueueNotFound();
    [Fact] public Task Fanout() => Fanout_exchange_copies_to_every_bound_queue();
    [Fact] public Task Body_reuse() => Publisher_may_reuse_the_body_memory_once_the_publish_returned();
    [Fact] public Task Batch_together_in_order() => Batch_consumer_takes_the_waiting_messages_together_in_order_within_its_limit();
    [Fact] public Task Batch_failure_redelivers() => Failed_batch_is_redelivered_and_each_message_is_acknowledged_once();
    [Fact] public Task Batch_outcomes() => Batch_messages_are_settled_by_their_own_outcomes();
    [Fact] public Task Batch_dispose_returns() => Disposing_a_batch_consumer_mid_batch_returns_the_batch_unsettled();
}
