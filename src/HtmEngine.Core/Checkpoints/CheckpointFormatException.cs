namespace HtmEngine.Core.Checkpoints;

/// <summary>A checkpoint's bytes are not an intact checkpoint of the expected kind and version.</summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception with a message saying what is wrong.</summary>
    public CheckpointFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public CheckpointFormatException()
    {
    }

    /// <summary>Creates the exception wrapping another.</summary>
    public CheckpointFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
