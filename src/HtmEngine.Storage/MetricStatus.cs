namespace HtmEngine.Storage;

/// <summary>
/// <c>metric.status</c>. The values are bit flags as in htmengine so that statuses of several
/// metrics can be OR-ed together.
/// </summary>
[Flags]
#pragma warning disable CA1714 // the names are the wire values of htmengine, not plural flags
public enum MetricStatus
#pragma warning restore CA1714
{
    /// <summary>The metric exists and data is stored, but there is no model.</summary>
    Unmonitored = 0,

    /// <summary>The model is created and confirmed by the model runner.</summary>
    Active = 1,

    /// <summary>Model parameters are saved and the model definition was sent, not yet confirmed.</summary>
    CreatePending = 2,

    /// <summary>Irrecoverable model error; <see cref="MetricRow.Message"/> holds the reason.</summary>
    Error = 4,

    /// <summary>Monitoring requested without min/max; waiting for enough data.</summary>
    PendingData = 8,
}
