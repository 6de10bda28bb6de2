using System.Reflection;
using System.Runtime.ExceptionServices;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime;

/// <summary>
/// Wraps a repository so that the first calls of chosen methods fail as a database down for longer than the
/// repository's retry budget does (a transient <see cref="StorageConnectionException"/>); every later call goes
/// through. Compiled into both test projects.
/// </summary>
public class OutageRepository : DispatchProxy
{
    private IMetricRepository _inner = null!;
    private string[] _methods = [];
    private int _failuresLeft;
    private int _failures;

    /// <summary>How many calls failed so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Wraps <paramref name="inner"/>: the first <paramref name="failures"/> calls of <paramref name="methods"/> fail.</summary>
    public static (IMetricRepository Repository, OutageRepository Outage) Wrap(IMetricRepository inner, int failures, params string[] methods)
    {
        IMetricRepository proxy = Create<IMetricRepository, OutageRepository>();
        var outage = (OutageRepository)(object)proxy;
        outage._inner = inner;
        outage._methods = methods;
        outage._failuresLeft = failures;
        return (proxy, outage);
    }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (Array.IndexOf(_methods, targetMethod.Name) >= 0 && Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            Interlocked.Increment(ref _failures);
            throw new StorageConnectionException("injected outage: the database did not answer within the retry budget", isTransient: true, null);
        }

        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            ExceptionDispatchInfo.Capture(inner).Throw();
            throw;
        }
    }
}
