using Xunit.Abstractions;
using Xunit.Sdk;

namespace HtmEngine.Tests.Integration.Storage;

/// <summary>
/// A fact that needs the servers its test class asks for (<see cref="IRequiresMariaDb"/>). The
/// decision is made per concrete class, so one shared suite can run on SQLite always and on
/// MariaDB when it answers; with <c>CI=true</c> nothing is skipped.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
[XunitTestCaseDiscoverer("HtmEngine.Tests.Integration.Storage.ServerFactDiscoverer", "HtmEngine.Tests.Integration")]
public sealed class ServerFactAttribute : FactAttribute
{
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
        var skip = TestServers.SkipReason(testMethod.TestClass.Class.ToRuntimeType());
        yield return new ServerTestCase(_diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, skip);
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
