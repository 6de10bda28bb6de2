namespace HtmEngine.Runtime.Adapter;

/// <summary>htmengine's <c>htmengineerrno</c> codes (spec §4.10), carried by every <see cref="HtmEngineException"/>.</summary>
public enum HtmEngineErrorCode
{
    /// <summary><c>SUCCESS</c>.</summary>
    Success = 0,

    /// <summary><c>ERR</c>: a generic error.</summary>
    Error = 1,

    /// <summary><c>ERR_MODEL_ALREADY_EXISTS</c>.</summary>
    ModelAlreadyExists = 2,

    /// <summary><c>ERR_NO_SUCH_MODEL</c>.</summary>
    NoSuchModel = 3,

    /// <summary><c>ERR_INVALID_ARG</c>.</summary>
    InvalidArgument = 4,
}

/// <summary>
/// Base of the adapter's errors (htmengine's <c>HTMEngineError</c>, spec §4.10). The message names the metric
/// and what is wrong; <see cref="ErrorCode"/> is the <c>htmengineerrno</c> an API maps to a response.
/// </summary>
public class HtmEngineException : Exception
{
    /// <summary>Creates the exception with <see cref="HtmEngineErrorCode.Error"/>.</summary>
    public HtmEngineException()
    {
    }

    /// <summary>Creates the exception with <see cref="HtmEngineErrorCode.Error"/>.</summary>
    /// <param name="message">What went wrong.</param>
    public HtmEngineException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <see cref="HtmEngineErrorCode.Error"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public HtmEngineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="errorCode">The htmengineerrno code.</param>
    /// <param name="innerException">The cause, or null.</param>
    protected HtmEngineException(string message, HtmEngineErrorCode errorCode, Exception? innerException)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The <c>htmengineerrno</c> code.</summary>
    public HtmEngineErrorCode ErrorCode { get; } = HtmEngineErrorCode.Error;
}

/// <summary>No metric (or model) has the given uid or name (htmengine's ObjectNotFoundError).</summary>
public sealed class ObjectNotFoundException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public ObjectNotFoundException()
        : this("ObjectNotFound")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public ObjectNotFoundException(string message)
        : base(message, HtmEngineErrorCode.NoSuchModel, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ObjectNotFoundException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.NoSuchModel, innerException)
    {
    }
}

/// <summary>The request or model spec is invalid (htmengine's ValueError): the message names the field.</summary>
public sealed class InvalidRequestException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public InvalidRequestException()
        : this("InvalidRequest")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public InvalidRequestException(string message)
        : base(message, HtmEngineErrorCode.InvalidArgument, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public InvalidRequestException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.InvalidArgument, innerException)
    {
    }
}

/// <summary>The metric's datasource is not <c>custom</c>, the only one this adapter serves (htmengine's TypeError / MetricNotSupportedError).</summary>
public sealed class MetricNotSupportedException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public MetricNotSupportedException()
        : this("MetricNotSupported")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public MetricNotSupportedException(string message)
        : base(message, HtmEngineErrorCode.InvalidArgument, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MetricNotSupportedException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.InvalidArgument, innerException)
    {
    }
}

/// <summary>The operation needs a monitored metric and this one is not (htmengine's MetricNotMonitoredError).</summary>
public sealed class MetricNotMonitoredException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public MetricNotMonitoredException()
        : this("MetricNotMonitored")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public MetricNotMonitoredException(string message)
        : base(message, HtmEngineErrorCode.Error, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MetricNotMonitoredException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.Error, innerException)
    {
    }
}

/// <summary>The operation needs an ACTIVE metric (htmengine's MetricNotActiveError).</summary>
public sealed class MetricNotActiveException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public MetricNotActiveException()
        : this("MetricNotActive")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public MetricNotActiveException(string message)
        : base(message, HtmEngineErrorCode.Error, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MetricNotActiveException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.Error, innerException)
    {
    }
}

/// <summary>The metric has no stored samples to infer min/max from (htmengine's MetricStatisticsNotReadyError).</summary>
public sealed class MetricStatisticsNotReadyException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public MetricStatisticsNotReadyException()
        : this("MetricStatisticsNotReady")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public MetricStatisticsNotReadyException(string message)
        : base(message, HtmEngineErrorCode.Error, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MetricStatisticsNotReadyException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.Error, innerException)
    {
    }
}

/// <summary>The metric's status changed under the operation, or is one the operation does not accept (htmengine's MetricStatusChangedError).</summary>
public sealed class MetricStatusChangedException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    public MetricStatusChangedException()
        : this("MetricStatusChanged")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public MetricStatusChangedException(string message)
        : base(message, HtmEngineErrorCode.Error, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MetricStatusChangedException(string message, Exception innerException)
        : base(message, HtmEngineErrorCode.Error, innerException)
    {
    }
}

/// <summary>Base of the errors that carry the uid of an existing metric (htmengine's <c>ObjectAlreadyExistsBase</c>).</summary>
public abstract class ObjectAlreadyExistsException : HtmEngineException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="uid">The existing metric's uid.</param>
    /// <param name="errorCode">The htmengineerrno code.</param>
    protected ObjectAlreadyExistsException(string message, string uid, HtmEngineErrorCode errorCode)
        : base(message, errorCode, null)
    {
        Uid = uid;
    }

    /// <summary>The uid of the metric that already exists.</summary>
    public string Uid { get; }
}

/// <summary><c>createMetric</c> of a name that exists (htmengine's MetricAlreadyExists); <see cref="ObjectAlreadyExistsException.Uid"/> is the existing metric.</summary>
public sealed class MetricAlreadyExistsException : ObjectAlreadyExistsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="uid">The existing metric's uid.</param>
    public MetricAlreadyExistsException(string message, string uid)
        : base(message, uid, HtmEngineErrorCode.ModelAlreadyExists)
    {
    }
}

/// <summary><c>monitorMetric</c> of a metric that is not UNMONITORED (htmengine's MetricAlreadyMonitored).</summary>
public sealed class MetricAlreadyMonitoredException : ObjectAlreadyExistsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="uid">The metric's uid.</param>
    public MetricAlreadyMonitoredException(string message, string uid)
        : base(message, uid, HtmEngineErrorCode.ModelAlreadyExists)
    {
    }
}
