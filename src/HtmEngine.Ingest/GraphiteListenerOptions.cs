using System.Net;

namespace HtmEngine.Ingest;

/// <summary>Settings of <see cref="GraphiteListener"/> (the <c>[metric_listener]</c> section binds to these).</summary>
public sealed class GraphiteListenerOptions
{
    /// <summary>The address to bind; loopback unless configured otherwise.</summary>
    public IPAddress BindAddress { get; set; } = IPAddress.Loopback;

    /// <summary>The TCP (and, when enabled, UDP) port; <c>[metric_listener] plaintext_port</c>. 0 picks a free port.</summary>
    public int Port { get; set; } = 2003;

    /// <summary>Open TCP connections allowed at once; further clients wait in the accept backlog.</summary>
    public int MaxConnections { get; set; } = 1024;

    /// <summary>Longest accepted line in bytes, newline excluded; longer lines are skipped.</summary>
    public int MaxLineLength { get; set; } = GraphiteParserState.DefaultMaxLineLength;

    /// <summary>Longest accepted metric name in UTF-8 bytes.</summary>
    public int MaxNameLength { get; set; } = GraphiteParserState.DefaultMaxNameLength;

    /// <summary>The most distinct metric names kept in the name table.</summary>
    public int MaxNames { get; set; } = MetricNameTable.DefaultMaxNames;

    /// <summary>Samples per batch handed to the sink (the original published 200 lines per message).</summary>
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>A partial batch is handed to the sink at the latest this long after its first sample arrived.</summary>
    public TimeSpan FlushDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Samples a connection collects before handing them to the batching stage.</summary>
    public int ChunkSize { get; set; } = 512;

    /// <summary>Chunks that may wait for the batching stage; when full, connections stop reading (backpressure).</summary>
    public int QueueCapacity { get; set; } = 64;

    /// <summary>Unparsed bytes buffered per connection before its socket reads pause.</summary>
    public int MaxBufferedBytesPerConnection { get; set; } = 1024 * 1024;

    /// <summary>Also listen for datagrams on the same port (off by default, as in carbon).</summary>
    public bool EnableUdp { get; set; }

    /// <summary>How long a stop waits for in-flight samples to reach the sink before abandoning them.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most one log line per rejection reason per this interval (with the count since the last one).</summary>
    public TimeSpan RejectionLogInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws <see cref="ArgumentException"/> when a setting is out of range.</summary>
    public void Validate()
    {
        if (BindAddress is null)
        {
            throw new ArgumentException("BindAddress is required.", nameof(BindAddress));
        }

        Check(Port is >= 0 and <= 65535, nameof(Port), "0..65535");
        Check(MaxConnections >= 1, nameof(MaxConnections), ">= 1");
        Check(MaxLineLength >= 16, nameof(MaxLineLength), ">= 16");
        Check(MaxNameLength >= 1 && MaxNameLength <= MaxLineLength, nameof(MaxNameLength), "1..MaxLineLength");
        Check(MaxNames >= 1, nameof(MaxNames), ">= 1");
        Check(MaxBatchSize >= 1, nameof(MaxBatchSize), ">= 1");
        Check(FlushDelay > TimeSpan.Zero, nameof(FlushDelay), "> 0");
        Check(ChunkSize >= 1, nameof(ChunkSize), ">= 1");
        Check(QueueCapacity >= 1, nameof(QueueCapacity), ">= 1");
        Check(MaxBufferedBytesPerConnection >= 2 * MaxLineLength, nameof(MaxBufferedBytesPerConnection), ">= 2 * MaxLineLength");
        Check(ShutdownTimeout >= TimeSpan.Zero, nameof(ShutdownTimeout), ">= 0");
        Check(RejectionLogInterval >= TimeSpan.Zero, nameof(RejectionLogInterval), ">= 0");

        static void Check(bool ok, string name, string range)
        {
            if (!ok)
            {
                throw new ArgumentException($"{name} must be {range}.", name);
            }
        }
    }
}
