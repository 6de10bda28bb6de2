using System.Net.Sockets;
using HtmEngine.Bus;
using HtmEngine.Server.Configuration;
using HtmEngine.Storage;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace HtmEngine.Tests.Integration;

/// <summary>The real servers a test may need.</summary>
[Flags]
public enum TestServer
{
    /// <summary>No server (the test runs everywhere).</summary>
    None = 0,

    /// <summary>The MariaDB of <c>tests/conf [repository]</c>.</summary>
    MariaDb = 1,

    /// <summary>The RabbitMQ of <c>tests/conf rabbitmq.conf</c>.</summary>
    RabbitMq = 2,

    /// <summary>Both.</summary>
    All = MariaDb | RabbitMq,
}

/// <summary>Marks a test class whose <see cref="ServerFactAttribute"/> tests all need MariaDB (lets a shared suite run on SQLite without it).</summary>
public interface IRequiresMariaDb
{
}

/// <summary>Marks a test class whose <see cref="ServerFactAttribute"/> tests all need RabbitMQ (lets a shared suite run on the in-process bus without it).</summary>
public interface IRequiresRabbitMq
{
}

/// <summary>
/// The one rule for tests on real servers (started by <c>scripts/services.sh start</c>): a test needing a server that
/// does not answer is skipped only when the environment variable <c>CI</c> is unset (or not <c>true</c>/<c>1</c>);
/// under CI it always runs, so a missing server fails it.
/// </summary>
public static class TestServers
{
    private static readonly Lazy<EngineOptions> s_options = new(() => ConfigLoader.Load(ConfigDirectory));
    private static readonly Lazy<string?> s_mariaDbProblem = new(() => Probe("MariaDB", o => (o.Repository.Host, o.Repository.Port)));
    private static readonly Lazy<string?> s_rabbitMqProblem = new(() => Probe("RabbitMQ", o => (o.Bus.Host, o.Bus.Port)));

    /// <summary>The repository root (the directory holding <c>HtmEngine.Fast.sln</c>).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "HtmEngine.Fast.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The test configuration directory (<c>tests/conf</c>).</summary>
    public static string ConfigDirectory => Path.Combine(RepositoryRoot, "tests", "conf");

    /// <summary>The loaded test configuration (environment overrides apply, as for the engine).</summary>
    public static EngineOptions Options => s_options.Value;

    /// <summary>True when the environment variable <c>CI</c> is <c>true</c> or <c>1</c>: missing servers are failures.</summary>
    public static bool IsCi => Environment.GetEnvironmentVariable("CI") is { } ci
        && (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");

    /// <summary>The [repository] section of tests/conf, mapped the way the server maps it.</summary>
    public static StorageOptions MySqlOptions()
    {
        var r = Options.Repository;
        return new StorageOptions(r.Host, r.Port, r.Database, r.User, r.Password, r.SqlitePath);
    }

    /// <summary>The test options pointed at another database next to the test one (the test user may create <c>db_*</c>).</summary>
    public static StorageOptions FreshMySqlDatabase(string purpose)
    {
        var options = MySqlOptions();
        return options with { Database = options.Database + "_" + purpose + "_" + Guid.NewGuid().ToString("N")[..8] };
    }

    /// <summary>The broker of tests/conf as bus options.</summary>
    public static RabbitMqBusOptions RabbitMqOptions()
    {
        var bus = Options.Bus;
        return new RabbitMqBusOptions(bus.Host, bus.Port, bus.VirtualHost, bus.User, bus.Password);
    }

    /// <summary>Why a test needing <paramref name="servers"/> must be skipped here, or null to run it.</summary>
    public static string? SkipReason(TestServer servers)
    {
        if (IsCi || servers == TestServer.None)
        {
            return null;
        }

        var problems = new List<string>();
        if (servers.HasFlag(TestServer.MariaDb) && s_mariaDbProblem.Value is { } db)
        {
            problems.Add(db);
        }

        if (servers.HasFlag(TestServer.RabbitMq) && s_rabbitMqProblem.Value is { } mq)
        {
            problems.Add(mq);
        }

        return problems.Count == 0
            ? null
            : string.Join("; ", problems) + " — run scripts/services.sh start (with CI=true this test fails instead of skipping)";
    }

    /// <summary>The servers a test class needs by its marker interfaces.</summary>
    public static TestServer NeedsOf(Type testClass)
    {
        var needs = TestServer.None;
        if (typeof(IRequiresMariaDb).IsAssignableFrom(testClass))
        {
            needs |= TestServer.MariaDb;
        }

        if (typeof(IRequiresRabbitMq).IsAssignableFrom(testClass))
        {
            needs |= TestServer.RabbitMq;
        }

        return needs;
    }

    private static string? Probe(string what, Func<EngineOptions, (string Host, int Port)> endpoint)
    {
        string host;
        int port;
        try
        {
            (host, port) = endpoint(Options);
        }
        catch (ConfigurationException ex)
        {
            return "tests/conf cannot be loaded: " + ex.Message;
        }

        try
        {
            using var client = new TcpClient();
            return client.ConnectAsync(host, port).Wait(TimeSpan.FromSeconds(2)) && client.Connected
                ? null
                : $"{what} at {host}:{port} does not answer";
        }
        catch (AggregateException ex) when (ex.InnerException is SocketException s)
        {
            return $"{what} at {host}:{port} is not reachable ({s.SocketErrorCode})";
        }
    }
}

/// <summary>
/// A fact that needs real servers: those named in the attribute plus those its test class asks for by
/// <see cref="IRequiresMariaDb"/> / <see cref="IRequiresRabbitMq"/> (decided per concrete class, so one shared suite
/// can run on the embedded backends always and on the servers when they answer). Skipped only when a needed server
/// does not answer and <c>CI</c> is not set; with <c>CI=true</c> it runs and fails.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
[XunitTestCaseDiscoverer("HtmEngine.Tests.Integration.ServerFactDiscoverer", "HtmEngine.Tests.Integration")]
public sealed class ServerFactAttribute : FactAttribute
{
    /// <summary>A fact needing only what its class's marker interfaces name.</summary>
    public ServerFactAttribute()
    {
    }

    /// <summary>A fact needing <paramref name="servers"/> (plus what its class's marker interfaces name).</summary>
    /// <param name="servers">The servers.</param>
    public ServerFactAttribute(TestServer servers)
    {
        Servers = servers;
    }

    /// <summary>The servers named on the attribute.</summary>
    public TestServer Servers { get; }
}

/// <summary>Discovers <see cref="ServerFactAttribute"/> tests with a skip reason computed for the concrete class.</summary>
public sealed class ServerFactDiscoverer : IXunitTestCaseDiscoverer
{
    private readonly IMessageSink _diagnosticMessageSink;

    public ServerFactDiscoverer(IMessageSink diagnosticMessageSink)
    {
        _diagnosticMessageSink = diagnosticMessageSink;
    }

    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        object?[] arguments = factAttribute.GetConstructorArguments().ToArray();
        var declared = arguments.Length > 0 && arguments[0] is TestServer s ? s : TestServer.None;
        var needs = declared | TestServers.NeedsOf(testMethod.TestClass.Class.ToRuntimeType());
        yield return new ServerTestCase(_diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, TestServers.SkipReason(needs));
    }
}

/// <summary>A test case whose skip reason comes from the server probe, not from the attribute.</summary>
public sealed class ServerTestCase : XunitTestCase
{
    private string? _serverSkipReason;

    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public ServerTestCase()
    {
    }

    public ServerTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay defaultMethodDisplay, TestMethodDisplayOptions defaultMethodDisplayOptions, ITestMethod testMethod, string? serverSkipReason)
        : base(diagnosticMessageSink, defaultMethodDisplay, defaultMethodDisplayOptions, testMethod)
    {
        _serverSkipReason = serverSkipReason;
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute)
        => _serverSkipReason ?? base.GetSkipReason(factAttribute);

    public override void Serialize(IXunitSerializationInfo data)
    {
        base.Serialize(data);
        data.AddValue("ServerSkipReason", _serverSkipReason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        _serverSkipReason = data.GetValue<string?>("ServerSkipReason");
        base.Deserialize(data);
    }
}
