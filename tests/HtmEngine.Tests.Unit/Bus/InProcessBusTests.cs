using System.Text;
using HtmEngine.Bus;

namespace HtmEngine.Tests.Unit.Bus;

public sealed class InProcessBusTests
{
    private static OutgoingMessage Message(int i) => new(Encoding.UTF8.GetBytes($"m{i}"), $"id{i}");

    [Fact]
    public async Task A_full_queue_makes_the_publisher_wait_until_a_consumer_makes_room()
    {
        await using var bus = new InProcessMessageBus(queueCapacity: 4);
        await bus.DeclareQueueAsync("q");
        await bus.PublishToQueueAsync("q", [.. Enumerable.Range(0, 4).Select(Message)]);

        var blocked = bus.PublishToQueueAsync("q", [Message(4), Message(5)]).AsTask();
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);
        Assert.Equal(4, await bus.GetReadyCountAsync("q"));

        var seen = new List<string>();
        var all = new TaskCompletionSource();
        await using var sub = await bus.ConsumeAsync("q", (m, _) =>
        {
            seen.Add(m.MessageId!);
            if (seen.Count == 6)
            {
                all.TrySetResult();
            }

            return ValueTask.FromResult(ConsumeOutcome.Ack);
        }, new ConsumerOptions(Prefetch: 1));
        await blocked.WaitAsync(TimeSpan.FromSeconds(10));
        await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"id{i}"), seen);
    }

    [Fact]
    public async Task A_waiting_publish_can_be_cancelled()
    {
        await using var bus = new InProcessMessageBus(queueCapacity: 1);
        await bus.DeclareQueueAsync("q");
        await bus.PublishToQueueAsync("q", [Message(0)]);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await bus.PublishToQueueAsync("q", [Message(1)], cancel.Token));
    }

    [Fact]
    public async Task Retrying_into_a_full_queue_does_not_deadlock()
    {
        await using var bus = new InProcessMessageBus(queueCapacity: 2);
        await bus.DeclareQueueAsync("q");
        await bus.PublishToQueueAsync("q", [Message(0), Message(1)]);
        var attempts = 0;
        var done = new TaskCompletionSource();
        await using var sub = await bus.ConsumeAsync("q", (m, _) =>
        {
            if (Interlocked.Increment(ref attempts) >= 6)
            {
                done.TrySetResult();
            }

            return ValueTask.FromResult(ConsumeOutcome.Retry);
        }, new ConsumerOptions(Prefetch: 1, MaxFailedAttempts: 3));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName("q")) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(2, await bus.GetReadyCountAsync(IMessageBus.DeadLetterQueueName("q")));
    }
}
