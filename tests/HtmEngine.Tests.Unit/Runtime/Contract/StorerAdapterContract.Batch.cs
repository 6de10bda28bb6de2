using HtmEngine.Bus;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Storer;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime.Contract;

/// <summary>The storer's batch handling: several waiting messages stored and forwarded together, safely.</summary>
public abstract partial class StorerAdapterContract
{
    private static BusMessage Delivered(string queue, string id, params string[] lines) =>
        new(queue, PlainMetricMessage.Encode(lines), id, new Dictionary<string, string>(), PlainMetricMessage.ContentType, false, 0);

    private static long CallsOf(MetricStorerService storer, string stage)
    {
        for (int i = 0; i < storer.Timings.Count; i++)
        {
            if (storer.Timings.Name(i) == stage)
            {
                return storer.Timings.Calls(i);
            }
        }

        throw new ArgumentException("no stage " + stage, nameof(stage));
    }

    protected Task A_batch_is_stored_and_forwarded_once_for_all_its_messages_and_a_poison_message_costs_only_itself() => RunAsync(async h =>
    {
        string a = h.Name("batch.a"), b = h.Name("batch.b");
        var uidA = (await h.Repository.GetOrCreateCustomMetricAsync(a)).Metric.Uid;
        await h.Repository.SetMetricStatusAsync(uidA, MetricStatus.Active);
        await using var storer = new MetricStorerService(h.Repository, h.Bus, h.StorerOptions);
        BusMessage[] batch =
        [
            Delivered(h.DataQueue, "m1", EngineHarness.Lines(a, 3, T0)),
            new(h.DataQueue, "{not json"u8.ToArray(), "poison", new Dictionary<string, string>(), null, false, 0),
            Delivered(h.DataQueue, "m2", [.. EngineHarness.Lines(a, 3, T0 + 900, 3), .. EngineHarness.Lines(b, 2, T0)]),
            Delivered(h.DataQueue, "m3", $"{a} 99 {T0 + 300}", $"{a} 6 {T0 + 1800}"), // one out of order, one fine
        ];

        var outcomes = await storer.HandleBatchAsync(batch, CancellationToken.None);

        Assert.Equal([ConsumeOutcome.Ack, ConsumeOutcome.DeadLetter, ConsumeOutcome.Ack, ConsumeOutcome.Ack], outcomes);
        var rowsA = await h.RowsAsync(uidA);
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], rowsA.Select(r => r.Rowid));
        Assert.Equal([0.0, 1, 2, 3, 4, 5, 6], rowsA.Select(r => r.MetricValue));
        Assert.Equal(2, (await h.RowsAsync((await h.MetricAsync(b)).Uid)).Count);
        Assert.Equal(1, storer.Counters.Rejected(StorerRejectReason.OutOfOrder));
        Assert.Equal(4, storer.Counters.Messages);
        Assert.Equal(3, storer.Counters.MessagesAcked);
        Assert.Equal(1, storer.Counters.MessagesDeadLettered);
        Assert.Equal(1, CallsOf(storer, "store"));   // one transaction for the three good messages
        Assert.Equal(1, CallsOf(storer, "forward")); // one confirmed publish round for all their rows
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uidA).Count == 7, "the forwarded rows");
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], h.RequestsFor(uidA).Select(r => r.Rowid));
    });

    protected Task A_batch_delivered_again_after_its_commit_stores_and_forwards_nothing_twice() => RunAsync(async h =>
    {
        string a = h.Name("again.a");
        var uidA = (await h.Repository.GetOrCreateCustomMetricAsync(a)).Metric.Uid;
        await h.Repository.SetMetricStatusAsync(uidA, MetricStatus.Active);
        await using var storer = new MetricStorerService(h.Repository, h.Bus, h.StorerOptions);
        BusMessage[] batch =
        [
            Delivered(h.DataQueue, "m1", EngineHarness.Lines(a, 3, T0)),
            Delivered(h.DataQueue, "m2", EngineHarness.Lines(a, 3, T0 + 900, 3)),
        ];
        await storer.HandleBatchAsync(batch, CancellationToken.None);
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uidA).Count == 6, "the forwarded rows");

        // The acknowledgement was lost (a crash after the commit): the broker delivers the same messages again,
        // flagged as redelivered, and maybe batched differently.
        var outcomes = await storer.HandleBatchAsync([batch[1] with { Redelivered = true }], CancellationToken.None);
        outcomes = [.. outcomes, .. await storer.HandleBatchAsync([batch[0] with { Redelivered = true }, batch[1] with { Redelivered = true }], CancellationToken.None)];

        Assert.All(outcomes, o => Assert.Equal(ConsumeOutcome.Ack, o));
        Assert.Equal([1L, 2, 3, 4, 5, 6], (await h.RowsAsync(uidA)).Select(r => r.Rowid));
        Assert.Equal(6, storer.Counters.SamplesStored);
        Assert.Equal(9, storer.Counters.Rejected(StorerRejectReason.Duplicate) + storer.Counters.Rejected(StorerRejectReason.OutOfOrder));
        await Task.Delay(300);
        Assert.Equal(6, h.RequestsFor(uidA).Count);
    });

    protected Task A_batch_not_committed_when_the_storer_stops_goes_back_whole_and_is_stored_once() => RunAsync(async h =>
    {
        var (flaky, control) = FlakyRepository.Wrap(h.Repository);
        control.Failing[nameof(IMetricRepository.StoreSampleBatchAsync)] = int.MaxValue;
        var first = new MetricStorerService(flaky, h.Bus, h.StorerOptions);
        var name = h.Name("batch.handback");
        for (int m = 0; m < 3; m++)
        {
            await h.PublishLinesAsync(EngineHarness.Lines(name, 2, T0 + (m * 600), 2 * m));
        }

        await first.StartAsync(CancellationToken.None);
        await EngineHarness.WaitUntilAsync(() => control.Failures >= 2, "failed attempts");
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await first.StopAsync(timeout.Token);
        }

        await first.DisposeAsync();
        Assert.Equal(0, first.Counters.MessagesAcked);
        await EngineHarness.WaitUntilAsync(async () => await h.Bus.GetReadyCountAsync(h.DataQueue) == 3, "the whole batch back in the queue");

        var second = await h.StartStorerAsync();

        // Done when all three messages are handled; then what was stored says whether they came back whole and in
        // order (a message handed back behind later ones has its samples rejected as out of order).
        async Task<string> State() =>
            $"acked {second.Counters.MessagesAcked} of {second.Counters.Messages} messages, stored {second.Counters.SamplesStored}, " +
            $"rejected {second.Counters.RejectedTotal} (out of order {second.Counters.Rejected(StorerRejectReason.OutOfOrder)}, " +
            $"duplicate {second.Counters.Rejected(StorerRejectReason.Duplicate)}), retries {second.Counters.Retries}, " +
            $"ready {await h.Bus.GetReadyCountAsync(h.DataQueue)}, dead {await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.DataQueue))}";
        await EngineHarness.WaitUntilAsync(() => second.Counters.MessagesAcked == 3, "the acks", State);
        var metric = await h.MetricAsync(name);
        Assert.True(second.Counters.RejectedTotal == 0, await State());
        Assert.Equal([0.0, 1, 2, 3, 4, 5], (await h.RowsAsync(metric.Uid)).Select(r => r.MetricValue));
        Assert.Equal(0, await h.Bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName(h.DataQueue)));
    });

    protected Task Overlapping_handler_calls_are_taken_one_at_a_time_and_every_row_is_stored_and_forwarded_as_itself() => RunAsync(async h =>
    {
        // What RabbitMQ's consumer did across a connection recovery (issue #7): the call in hand waits for the broker
        // in its forward while the recovered channel delivers the next message to the handler already.
        string a = h.Name("overlap.a");
        var uidA = (await h.Repository.GetOrCreateCustomMetricAsync(a)).Metric.Uid;
        await h.Repository.SetMetricStatusAsync(uidA, MetricStatus.Active);
        var bus = new ForwardHoldingBus(h.Bus, h.DataQueue);
        await using var storer = new MetricStorerService(h.Repository, bus, h.StorerOptions);
        var first = storer.HandleBatchAsync([Delivered(h.DataQueue, "m1", EngineHarness.Lines(a, 3, T0))], CancellationToken.None).AsTask();
        await bus.Held.WaitAsync(TimeSpan.FromSeconds(30));
        var second = storer.HandleBatchAsync([Delivered(h.DataQueue, "m2", EngineHarness.Lines(a, 3, T0 + 900, 3))], CancellationToken.None).AsTask();
        await Task.Delay(300); // the second call runs as far as it is let
        bus.Release();
        var outcomes = (await first).Concat(await second).ToArray();

        Assert.All(outcomes, o => Assert.Equal(ConsumeOutcome.Ack, o));
        var rows = await h.RowsAsync(uidA);
        Assert.Equal([1L, 2, 3, 4, 5, 6], rows.Select(r => r.Rowid));
        Assert.Equal([0.0, 1, 2, 3, 4, 5], rows.Select(r => r.MetricValue));
        await EngineHarness.WaitUntilAsync(() => h.RequestsFor(uidA).Count >= 6, "the forwarded rows");
        await Task.Delay(200);
        var requests = h.RequestsFor(uidA);
        Assert.Equal([1L, 2, 3, 4, 5, 6], requests.Select(r => r.Rowid));
        Assert.Equal(rows.Select(r => r.MetricValue), requests.Select(r => r.Value));
        Assert.Equal(rows.Select(r => r.Timestamp), requests.Select(r => r.Timestamp));
    });

    /// <summary>Delegates to a bus, but holds the first publish to any queue but the data queue until released.</summary>
    private sealed class ForwardHoldingBus(IMessageBus inner, string dataQueue) : ForwardingBus(inner)
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _holding = 1;

        public Task Held => _held.Task;

        public void Release() => _release.TrySetResult();

        public override async ValueTask PublishToQueueAsync(string queue, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
        {
            if (queue != dataQueue && Interlocked.Exchange(ref _holding, 0) == 1)
            {
                _held.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }

            await Inner.PublishToQueueAsync(queue, messages, cancellationToken);
        }

    }
}
