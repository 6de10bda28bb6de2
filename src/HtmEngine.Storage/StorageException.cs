namespace HtmEngine.Storage;

/// <summary>A repository operation failed. The message is one line and never contains the password.</summary>
public class StorageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StorageException(string message, bool isTransient, Exception? innerException)
        : base(message, innerException)
    {
        IsTransient = isTransient;
    }

    /// <summary>Creates an exception with a message.</summary>
    public StorageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public StorageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no message.</summary>
    public StorageException()
    {
    }

    /// <summary>
    /// True when the failure was transient (the retry budget ran out): the caller may try again
    /// later, and must not acknowledge the data it tried to write.
    /// </summary>
    public bool IsTransient { get; }
}

/// <summary>
/// The repository could not be reached or refused the login. The message names host, port,
/// database and user (never the password) and the reason.
/// </summary>
public sealed class StorageConnectionException : StorageException
{
    /// <summary>Creates the exception.</summary>
    public StorageConnectionException(string message, bool isTransient, Exception? innerException)
        : base(message, isTransient, innerException)
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public StorageConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public StorageConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no message.</summary>
    public StorageConnectionException()
    {
    }
}

/// <summary>No metric has the given uid or name (htmengine's ObjectNotFoundError).</summary>
public sealed class MetricNotFoundException : StorageException
{
    /// <summary>Creates the exception.</summary>
    public MetricNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public MetricNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no message.</summary>
    public MetricNotFoundException()
    {
    }
}
