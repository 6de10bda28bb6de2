namespace HtmEngine.Ingest;

/// <summary>A metric data message body that cannot be decoded (bad JSON, wrong shape, unknown protocol, truncated binary).</summary>
public sealed class MetricMessageFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public MetricMessageFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong with the body.</param>
    public MetricMessageFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What is wrong with the body.</param>
    /// <param name="innerException">The decoder's exception.</param>
    public MetricMessageFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
