using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HtmEngine.Ingest;
using Microsoft.Extensions.Logging;

namespace HtmEngine.Tests.Unit.Ingest;

internal static class ListenerTestSupport
{
    public const long T = 1_700_000_000;

    public static async Task<GraphiteListener> StartAsync(IMetricSampleSink sink, Action<GraphiteListenerOptions>? configure = null, ILogger<GraphiteListener>? logger = null)
    {
        var options = new GraphiteListenerOptions { Port = 0, FlushDelay = TimeSpan.FromMilliseconds(5), ShutdownTimeout = TimeSpan.FromSeconds(5) };
        configure?.Invoke(options);
        var listener = new GraphiteListener(options, sink, logger: logger);
        await listener.StartAsync();
        return listener;
    }

    public static async Task<Socket> ConnectAsync(GraphiteListener listener)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(listener.LocalEndPoint!);
        return socket;
    }

    public static async Task SendAndCloseAsync(GraphiteListener listener, byte[] data)
    {
        using Socket socket = await ConnectAsync(listener);
        await SendAllAsync(socket, data);
        socket.Shutdown(SocketShutdown.Send);
        // Wait for the server to close its side, so every byte has been read.
        var sink = new byte[16];
        while (await socket.ReceiveAsync(sink, SocketFlags.None) > 0)
        {
        }
    }

    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None);
            data = data[sent..];
        }
    }

    public static byte[] Lines(string prefix, int count, int start = 0)
    {
        var builder = new StringBuilder();
        for (int i = start; i < start + count; i++)
        {
            builder.Append(prefix).Append(' ').Append(i).Append(' ').Append(T + i).Append('\n');
        }

        return Encoding.ASCII.GetBytes(builder.ToString());
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutMs = 10_000)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.ElapsedMilliseconds > timeoutMs)
            {
                throw new TimeoutException("Timed out waiting for: " + what);
            }

            await Task.Delay(5);
        }
    }

    public sealed class CapturingLogger : ILogger<GraphiteListener>
    {
        public ConcurrentQueue<(EventId Id, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((eventId, formatter(state, exception)));
    }

    public sealed class FailingSink : IMetricSampleSink
    {
        private int _calls;

        public int Calls => _calls;

        public ValueTask WriteAsync(MetricSampleBatch batch, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("downstream is broken");
        }
    }

    public static IPEndPoint Udp(GraphiteListener listener) => listener.UdpLocalEndPoint!;
}
