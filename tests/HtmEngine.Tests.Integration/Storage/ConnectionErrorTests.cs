using System.Net;
using System.Net.Sockets;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>Connection problems give one line naming host, port, database and user, never the password.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class ConnectionErrorTests : IRequiresMariaDb
{
    private static void AssertOneClearLine(StorageConnectionException ex, StorageOptions options)
    {
        var message = ex.Message;
        Assert.DoesNotContain('\n', message);
        Assert.Contains(options.Host + ":" + options.Port, message, StringComparison.Ordinal);
        Assert.Contains("'" + options.Database + "'", message, StringComparison.Ordinal);
        Assert.Contains("'" + options.User + "'", message, StringComparison.Ordinal);
        Assert.DoesNotContain(options.Password, message, StringComparison.Ordinal);
        Assert.DoesNotContain(options.Password, ex.ToString(), StringComparison.Ordinal);
    }

    [ServerFact]
    public async Task A_wrong_password_is_reported_once_without_retrying_or_leaking_it()
    {
        var options = TestServers.MySqlOptions() with { Password = "Wr0ng-Secret-" + Guid.NewGuid().ToString("N")[..6] };
        var started = DateTime.UtcNow;
        var ex = await Assert.ThrowsAsync<StorageConnectionException>(() => MetricRepository.OpenAsync(options));
        AssertOneClearLine(ex, options);
        Assert.Contains("access denied", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.IsTransient);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "a login failure must not be retried for the whole budget");
    }

    [Fact]
    public async Task An_unreachable_server_is_reported_once_after_the_retry_budget()
    {
        // A port nobody listens on: bind one, note it, close it.
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var options = new StorageOptions("127.0.0.1", port, "htmengine_nowhere", "someone", "Not-The-Password-42", string.Empty)
        {
            RetryBudget = TimeSpan.FromSeconds(1),
            ConnectTimeout = TimeSpan.FromSeconds(1),
        };
        var ex = await Assert.ThrowsAsync<StorageConnectionException>(() => MetricRepository.OpenAsync(options));
        AssertOneClearLine(ex, options);
        Assert.StartsWith("cannot connect to MySQL at 127.0.0.1:" + port, ex.Message, StringComparison.Ordinal);
        Assert.True(ex.IsTransient);
    }
}
