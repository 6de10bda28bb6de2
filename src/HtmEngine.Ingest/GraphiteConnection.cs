using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Ingest;

/// <summary>
/// One TCP client: a receive loop fills a <see cref="Pipe"/> straight from the socket, and a parse loop drains it
/// into samples. The pipe's pause threshold bounds the unparsed bytes; when the batching stage is full the parse loop
/// waits, the pipe fills, the receive loop stops reading, and TCP flow control slows the sender.
/// </summary>
internal sealed class GraphiteConnection
{
    private const int MinimumReceiveSize = 16 * 1024;

    private readonly Socket _socket;
    private readonly Pipe _pipe;
    private readonly SampleProducer _producer;
    private readonly GraphiteListenerCounters _counters;
    private readonly ILogger _logger;
    private readonly string _remote;
    private readonly CancellationToken _abort;
    private int _closed;

    public GraphiteConnection(Socket socket, SampleProducer producer, GraphiteListenerCounters counters, GraphiteListenerOptions options, ILogger logger, string remote, CancellationToken abort)
    {
        _socket = socket;
        _producer = producer;
        _counters = counters;
        _logger = logger;
        _remote = remote;
        _abort = abort;
        long pause = options.MaxBufferedBytesPerConnection;
        _pipe = new Pipe(new PipeOptions(
            pauseWriterThreshold: pause,
            resumeWriterThreshold: pause / 2,
            minimumSegmentSize: 64 * 1024,
            useSynchronizationContext: false));
    }

    public Task RunAsync() => Task.WhenAll(ReceiveAsync(), ParseAsync());

    /// <summary>Stops reading from the socket; what is already buffered is still parsed and delivered.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already reset by the peer.
            }
            catch (ObjectDisposedException)
            {
                // Already closed.
            }

            _socket.Dispose();
        }
    }

    private async Task ReceiveAsync()
    {
        PipeWriter writer = _pipe.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                Memory<byte> memory = writer.GetMemory(MinimumReceiveSize);
                int received = await _socket.ReceiveAsync(memory, SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);
                _counters.AddBytes(received);
                FlushResult flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (SocketException ex)
        {
            IngestLog.ConnectionSocketError(_logger, _remote, ex.SocketErrorCode.ToString());
        }
        catch (ObjectDisposedException)
        {
            // Closed by shutdown.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            error = ex;
            IngestLog.ConnectionFailed(_logger, ex, _remote);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private async Task ParseAsync()
    {
        PipeReader reader = _pipe.Reader;
        try
        {
            while (true)
            {
                if (!reader.TryRead(out ReadResult result))
                {
                    // Nothing more buffered: hand over what this connection has collected before waiting.
                    await _producer.PublishAsync(_abort).ConfigureAwait(false);
                    result = await reader.ReadAsync().ConfigureAwait(false);
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                SequencePosition consumed = _producer.Parse(buffer, result.IsCompleted, out bool chunkFull);
                reader.AdvanceTo(consumed, chunkFull ? consumed : buffer.End);
                if (chunkFull)
                {
                    await _producer.PublishAsync(_abort).ConfigureAwait(false);
                }
                else if (result.IsCompleted)
                {
                    break;
                }
            }

            await _producer.PublishAsync(_abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Shutdown timed out while the batching stage was full.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The receive loop's failure is logged there; this connection ends, the listener carries on.
            if (ex is not IOException)
            {
                IngestLog.ConnectionFailed(_logger, ex, _remote);
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            Close();
        }
    }
}
