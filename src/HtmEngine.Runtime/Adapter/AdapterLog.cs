using Microsoft.Extensions.Logging;

namespace HtmEngine.Runtime.Adapter;

/// <summary>Log messages of the datasource adapter (event ids 5200–5299).</summary>
internal static partial class AdapterLog
{
    [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "Metric {Name} ({Uid}) created")]
    public static partial void MetricCreated(ILogger logger, string name, string uid);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "Metric {Name} ({Uid}) monitored: model defined with min {Min}, max {Max} ({Source}); status CREATE_PENDING")]
    public static partial void ModelDefined(ILogger logger, string name, string uid, double min, double max, string source);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Information, Message = "Metric {Name} ({Uid}) monitored without min/max and with {Rows} rows; status PENDING_DATA until {Threshold} rows")]
    public static partial void PendingData(ILogger logger, string name, string uid, long rows, int threshold);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "Metric {Uid} unmonitored; deleteModel sent")]
    public static partial void Unmonitored(ILogger logger, string uid);

    [LoggerMessage(EventId = 5205, Level = LogLevel.Information, Message = "Metric {Name} ({Uid}) deleted")]
    public static partial void Deleted(ILogger logger, string name, string uid);

    [LoggerMessage(EventId = 5206, Level = LogLevel.Error, Message = "Metric {Uid}: defineModel could not be sent; status ERROR")]
    public static partial void DefineFailed(ILogger logger, Exception exception, string uid);

    [LoggerMessage(EventId = 5207, Level = LogLevel.Information, Message = "Metric {Name} ({Uid}) imported with {Rows} rows")]
    public static partial void Imported(ILogger logger, string name, string uid, int rows);
}
