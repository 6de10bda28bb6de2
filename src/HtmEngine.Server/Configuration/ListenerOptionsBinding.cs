using System.Net;
using HtmEngine.Ingest;

namespace HtmEngine.Server.Configuration;

/// <summary>Maps <c>[metric_listener]</c> onto the Graphite listener's settings.</summary>
public static class ListenerOptionsBinding
{
    /// <summary>The listener settings for <paramref name="options"/>'s <c>[metric_listener]</c> section.</summary>
    /// <param name="options">The loaded configuration.</param>
    /// <returns>New, validated settings; the rest keep the listener's defaults.</returns>
    public static GraphiteListenerOptions ToGraphiteListenerOptions(this EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.MetricListener.ToGraphiteListenerOptions();
    }

    /// <summary>The listener settings for a <c>[metric_listener]</c> section.</summary>
    /// <param name="listener">The section.</param>
    /// <returns>New, validated settings; the rest keep the listener's defaults.</returns>
    public static GraphiteListenerOptions ToGraphiteListenerOptions(this MetricListenerOptions listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var result = new GraphiteListenerOptions
        {
            BindAddress = IPAddress.Parse(listener.BindAddress),
            Port = listener.PlaintextPort,
            MaxLineLength = listener.MaxLineLength,
            MaxNameLength = Math.Min(listener.MaxLineLength, new GraphiteListenerOptions().MaxNameLength),
            MaxConnections = listener.MaxConnections,
            EnableUdp = listener.Udp,
            MaxBatchSize = listener.MaxBatchSize,
            FlushDelay = TimeSpan.FromMilliseconds(listener.FlushDelayMs),
        };
        result.MaxBufferedBytesPerConnection = Math.Max(result.MaxBufferedBytesPerConnection, 2 * result.MaxLineLength);
        result.Validate();
        return result;
    }
}
