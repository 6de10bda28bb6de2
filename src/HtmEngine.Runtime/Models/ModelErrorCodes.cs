namespace HtmEngine.Runtime.Models;

/// <summary>The status codes of model results (htmengine's <c>htmengineerrno</c>, spec §4.10).</summary>
public static class ModelErrorCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>Generic error (for example a row whose value is not a finite number).</summary>
    public const int Error = 1;

    /// <summary>defineModel for a model that exists with a different definition.</summary>
    public const int ModelAlreadyExists = 2;

    /// <summary>A row for a metric with no model.</summary>
    public const int NoSuchModel = 3;

    /// <summary>A malformed command or a row sent to the wrong shard.</summary>
    public const int InvalidArgument = 4;
}
