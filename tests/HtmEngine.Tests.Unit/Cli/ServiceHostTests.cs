using HtmEngine.Runtime.Hosting;
using HtmEngine.Server.Hosting;

namespace HtmEngine.Tests.Unit.Cli;

public class ServiceHostTests
{
    private sealed class Recording(string name, List<string> log, bool failStart = false) : IEngineService
    {
        public string Name => name;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            log.Add("start " + name);
            return failStart ? Task.FromException(new InvalidOperationException(name + " cannot start")) : Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            log.Add("stop " + name);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Starts_in_order_runs_until_stop_then_stops_in_reverse()
    {
        var log = new List<string>();
        using var stop = new CancellationTokenSource();
        var host = new ServiceHost([new Recording("a", log), new Recording("b", log)], TextWriter.Null, TimeSpan.FromSeconds(5));
        var run = host.RunAsync(stop.Token);
        await Task.Delay(50);
        Assert.False(run.IsCompleted);
        Assert.Equal(["start a", "start b"], log);
        await stop.CancelAsync();
        await run;
        Assert.Equal(["start a", "start b", "stop b", "stop a"], log);
    }

    [Fact]
    public async Task Failed_start_stops_what_already_started_and_rethrows()
    {
        var log = new List<string>();
        var host = new ServiceHost([new Recording("a", log), new Recording("b", log, failStart: true), new Recording("c", log)], TextWriter.Null, TimeSpan.FromSeconds(5));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.RunAsync(CancellationToken.None));
        Assert.Equal("b cannot start", e.Message);
        Assert.Equal(["start a", "start b", "stop a"], log);
    }
}
