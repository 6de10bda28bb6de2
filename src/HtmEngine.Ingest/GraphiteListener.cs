using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Ingest;

/// <summary>
/// The Graphite plaintext listener: TCP (and optionally UDP) on one port, System.IO.Pipelines per connection, samples
/// handed to an <see cref="IMetricSampleSink"/> in batches. Call <see cref="StartAsync"/>, read
/// <see cref="Counters"/> while it runs, and <see cref="StopAsync"/> (or dispose) to stop accepting, parse what was
/// received, and flush every accepted sample to the sink.
/// </summary>
public sealed class GraphiteListener : IAsyncDisposable
{
    private readonly GraphiteListenerOptions _options;
    private readonly ILogger _logger;
    private readonly SampleBatcher _batcher;
    private readonly RejectionLogLimiter _rejectionLog;
    private readonly SemaphoreSlim _connectionSlots;
    private readonly ConcurrentDictionary<GraphiteConnection, Task> _connections = new();
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly CancellationTokenSource _abort = new();
    private Socket? _listenSocket;
    private Socket? _udpSocket;
    private Task _acceptLoop = Task.CompletedTask;
    private Task _udpLoop = Task.CompletedTask;
    private Task? _stopTask;
    private int _started;
    private int _stopping;

    /// <summary>Creates a listener (not yet bound).</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="sink">Receives the accepted samples in batches.</param>
    /// <param name="names">The name table to intern into (shared with the consumer); a new one when null.</param>
    /// <param name="logger">Logger; none when null.</param>
    public GraphiteListener(GraphiteListenerOptions options, IMetricSampleSink sink, MetricNameTable? names = null, ILogger<GraphiteListener>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sink);
        options.Validate();
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Names = names ?? new MetricNameTable(options.MaxNames);
        Counters = new GraphiteListenerCounters();
        _batcher = new SampleBatcher(Names, sink, Counters, options, _logger);
        _rejectionLog = new RejectionLogLimiter(_logger, options.RejectionLogInterval);
        _connectionSlots = new SemaphoreSlim(options.MaxConnections, options.MaxConnections);
    }

    /// <summary>Live counters (lines accepted and rejected by reason, bytes, connections).</summary>
    public GraphiteListenerCounters Counters { get; }

    /// <summary>The table that resolves sample name ids.</summary>
    public MetricNameTable Names { get; }

    /// <summary>The bound TCP endpoint (with the real port when 0 was configured); null before start.</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>The bound UDP endpoint; null unless UDP is enabled and started.</summary>
    public IPEndPoint? UdpLocalEndPoint { get; private set; }

    /// <summary>Binds and starts accepting.</summary>
    /// <param name="cancellationToken">Unused beyond an early check; binding is synchronous.</param>
    /// <returns>Completes once the sockets are bound.</returns>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The listener was already started.");
        }

        var listen = new Socket(_options.BindAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listen.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listen.Bind(new IPEndPoint(_options.BindAddress, _options.Port));
            listen.Listen(512);
        }
        catch
        {
            listen.Dispose();
            throw;
        }

        _listenSocket = listen;
        LocalEndPoint = (IPEndPoint)listen.LocalEndPoint!;
        if (_options.EnableUdp)
        {
            var udp = new Socket(_options.BindAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                udp.Bind(new IPEndPoint(_options.BindAddress, LocalEndPoint.Port));
            }
            catch
            {
                udp.Dispose();
                listen.Dispose();
                throw;
            }

            _udpSocket = udp;
            UdpLocalEndPoint = (IPEndPoint)udp.LocalEndPoint!;
        }

        _batcher.Start(_abort.Token);
        _acceptLoop = Task.Run(AcceptLoopAsync, CancellationToken.None);
        if (_udpSocket is not null)
        {
            _udpLoop = Task.Run(UdpLoopAsync, CancellationToken.None);
        }

        IngestLog.ListenerStarted(_logger, LocalEndPoint, _udpSocket is not null);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting and reading, parses what was already received, and flushes every accepted sample to the sink.
    /// Waits at most <see cref="GraphiteListenerOptions.ShutdownTimeout"/> (or until <paramref name="cancellationToken"/>)
    /// for a slow sink; after that, undelivered samples are counted as dropped.
    /// </summary>
    /// <param name="cancellationToken">Shortens the wait for the sink.</param>
    /// <returns>Completes when the listener has stopped.</returns>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 0)
        {
            _stopTask = StopCoreAsync(cancellationToken);
        }

        return _stopTask ?? Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopAccepting.Dispose();
        _abort.Dispose();
        _connectionSlots.Dispose();
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ShutdownTimeout);
        using CancellationTokenRegistration abortOnTimeout = timeout.Token.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abort);

        await _stopAccepting.CancelAsync().ConfigureAwait(false);
        _listenSocket?.Dispose();
        _udpSocket?.Dispose();
        await Task.WhenAll(_acceptLoop, _udpLoop).ConfigureAwait(false);

        foreach (GraphiteConnection connection in _connections.Keys)
        {
            connection.Close();
        }

        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
        await _batcher.CompleteAsync().ConfigureAwait(false);

        long undelivered = Counters.LinesAccepted - Counters.SamplesDelivered - Counters.SamplesDropped;
        if (_abort.IsCancellationRequested)
        {
            IngestLog.ShutdownTimedOut(_logger, undelivered + Counters.SamplesDropped);
        }

        _rejectionLog.FlushPending();
        IngestLog.ListenerStopped(_logger, Counters.LinesAccepted, Counters.LinesRejected, Counters.SamplesDelivered, Counters.SamplesDropped);
    }

    private async Task AcceptLoopAsync()
    {
        CancellationToken stop = _stopAccepting.Token;
        Socket listen = _listenSocket!;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!_connectionSlots.Wait(0))
                {
                    IngestLog.ConnectionLimitReached(_logger, _options.MaxConnections);
                    await _connectionSlots.WaitAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }

            Socket client;
            try
            {
                client = await listen.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || (ex is SocketException && stop.IsCancellationRequested))
            {
                _connectionSlots.Release();
                break;
            }
            catch (SocketException ex)
            {
                // A client that reset before accept completed, or a transient resource error: keep accepting.
                _connectionSlots.Release();
                IngestLog.ConnectionSocketError(_logger, "accept", ex.SocketErrorCode.ToString());
                continue;
            }

            StartConnection(client);
        }
    }

    private void StartConnection(Socket client)
    {
        client.NoDelay = true;
        string remote = client.RemoteEndPoint?.ToString() ?? "?";
        var producer = new SampleProducer(_batcher, Names, Counters, _rejectionLog, _options, remote);
        var connection = new GraphiteConnection(client, producer, Counters, _options, _logger, remote, _abort.Token);
        Counters.ConnectionOpened();

        // Registered before it may run, so its own removal can never precede its registration.
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _connections[connection] = RunConnectionAsync(connection, registered.Task);
        registered.SetResult();
        if (Volatile.Read(ref _stopping) != 0)
        {
            connection.Close();
        }
    }

    private async Task RunConnectionAsync(GraphiteConnection connection, Task registered)
    {
        await registered.ConfigureAwait(false);
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            IngestLog.ConnectionFailed(_logger, ex, "?");
        }
        finally
        {
            Counters.ConnectionClosed();
            _connectionSlots.Release();
            _connections.TryRemove(connection, out _);
        }
    }

    private async Task UdpLoopAsync()
    {
        Socket udp = _udpSocket!;
        CancellationToken stop = _stopAccepting.Token;
        var producer = new SampleProducer(_batcher, Names, Counters, _rejectionLog, _options, "udp");
        byte[] buffer = new byte[65536 + 1];
        EndPoint any = new IPEndPoint(_options.BindAddress.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                SocketReceiveFromResult received;
                try
                {
                    received = await udp.ReceiveFromAsync(buffer.AsMemory(0, 65536), SocketFlags.None, any, stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || (ex is SocketException && stop.IsCancellationRequested))
                {
                    break;
                }
                catch (SocketException ex)
                {
                    IngestLog.ConnectionSocketError(_logger, "udp", ex.SocketErrorCode.ToString());
                    continue;
                }

                int length = received.ReceivedBytes;
                Counters.AddDatagram();
                Counters.AddBytes(length);
                if (length == 0)
                {
                    continue;
                }

                // A datagram ends its last line, as in carbon (splitlines()).
                if (buffer[length - 1] != (byte)'\n')
                {
                    buffer[length++] = (byte)'\n';
                }

                var sequence = new ReadOnlySequence<byte>(buffer, 0, length);
                while (true)
                {
                    SequencePosition consumed = producer.Parse(sequence, isFinal: false, out bool chunkFull);
                    if (!chunkFull)
                    {
                        break;
                    }

                    await producer.PublishAsync(_abort.Token).ConfigureAwait(false);
                    sequence = sequence.Slice(consumed);
                }

                if (udp.Available == 0)
                {
                    await producer.PublishAsync(_abort.Token).ConfigureAwait(false);
                }
            }

            await producer.PublishAsync(_abort.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Shutdown timed out while the batching stage was full.
        }
    }
}
