namespace HtmEngine.Bus;

/// <summary>How to reach RabbitMQ (the engine maps <c>rabbitmq.conf</c> onto this) and how hard to retry.</summary>
/// <param name="Host">Broker host.</param>
/// <param name="Port">AMQP port.</param>
/// <param name="VirtualHost">Virtual host.</param>
/// <param name="User">User name.</param>
/// <param name="Password">Password.</param>
public sealed record RabbitMqBusOptions(
    string Host = "localhost",
    int Port = 5672,
    string VirtualHost = "/",
    string User = "guest",
    string Password = "guest")
{
    /// <summary>The most publishes awaiting a broker confirm at once on the publishing channel.</summary>
    public int MaxOutstandingConfirms { get; init; } = 256;

    /// <summary>How long a publish or declaration keeps retrying across a lost connection before it throws.</summary>
    public TimeSpan RetryTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the first connection attempt keeps retrying before it throws.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Pause between automatic reconnection attempts after the connection is lost.</summary>
    public TimeSpan RecoveryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a batch waits for its confirms before it is treated as interrupted and published again.</summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The connection name shown in the management UI.</summary>
    public string ClientName { get; init; } = "htmengine";
}
