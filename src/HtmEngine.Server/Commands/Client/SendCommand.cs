using System.Globalization;
using System.Net.Sockets;
using HtmEngine.Server.Configuration;

namespace HtmEngine.Server.Commands.Client;

/// <summary><c>htmengine send</c>: a Graphite plaintext client that streams a file (or standard input) to the listener.</summary>
public sealed class SendCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "send";

    /// <inheritdoc/>
    public string Summary => "Send Graphite lines (name value timestamp) from a file or stdin to the listener.";

    /// <inheritdoc/>
    public string Help => """
        Usage: htmengine send [FILE|-] [--host H] [--port P] [--config DIR]

        Streams Graphite plaintext lines ("name value epoch-seconds", one per line) from FILE, or from
        standard input when FILE is - or absent, to the engine's Graphite listener, and prints how many
        lines and bytes were sent. The listener checks every line; rejected lines are counted there.

        Options:
          --host H       Listener address (default: [metric_listener] bind_address of the
                         configuration, else 127.0.0.1).
          --port P       Listener port (default: [metric_listener] plaintext_port, else 2003).
          --config DIR   Configuration directory to read the defaults from.
          -h, --help     Show this text.

        """;

    /// <inheritdoc/>
    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var options = OptionParser.Parse(Name, args, ["--host", "--port", "--config"], [], stderr);
        if (options is null)
        {
            return 2;
        }

        if (options.HelpRequested)
        {
            stdout.Write(Help);
            return 0;
        }

        if (options.Positionals.Count > 1)
        {
            stderr.WriteLine($"htmengine send: unexpected argument '{options.Positionals[1]}'. Run 'htmengine send --help'.");
            return 2;
        }

        string host = options.Value("--host") ?? "";
        int port = 0;
        if (options.Value("--port") is { } p && (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            stderr.WriteLine($"htmengine send: option '--port' expects a port from 1 to 65535, got '{p}'. Run 'htmengine send --help'.");
            return 2;
        }

        try
        {
            if (host.Length == 0 || port == 0)
            {
                var listener = Listener(options.Value("--config"));
                host = host.Length > 0 ? host : listener.BindAddress is "0.0.0.0" or "::" ? "127.0.0.1" : listener.BindAddress;
                port = port > 0 ? port : listener.PlaintextPort;
            }

            string source = options.Positionals.Count == 0 ? "-" : options.Positionals[0];
            using var input = source == "-" ? Console.OpenStandardInput() : File.OpenRead(source);
            var (lines, bytes) = SendAsync(input, host, port).GetAwaiter().GetResult();
            stdout.WriteLine($"sent {lines} line(s), {bytes} byte(s) to {host}:{port}");
            return 0;
        }
        catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException or ConfigurationException)
        {
            stderr.WriteLine($"htmengine send: {e.Message}");
            return 1;
        }
    }

    /// <summary>Copies <paramref name="input"/> to a Graphite listener; returns the lines (newlines) and bytes sent.</summary>
    public static async Task<(long Lines, long Bytes)> SendAsync(Stream input, string host, int port, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new IOException($"cannot connect to the Graphite listener at {host}:{port}: {e.Message} (is 'htmengine serve' running?)", e);
        }

        var stream = client.GetStream();
        var buffer = new byte[64 * 1024];
        long lines = 0;
        long bytes = 0;
        byte last = (byte)'\n';
        int read;
        while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
            last = buffer[read - 1];
            await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            bytes += read;
        }

        if (last != (byte)'\n')
        {
            // Graphite needs the newline to take the last line.
            await stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            lines++;
            bytes++;
        }

        client.Client.Shutdown(SocketShutdown.Send);
        return (lines, bytes);
    }

    private static MetricListenerOptions Listener(string? configDirectory)
    {
        try
        {
            return EngineOptions.Bind(ConfigSource.LoadValues(configDirectory)).MetricListener;
        }
        catch (ConfigurationException) when (configDirectory is null)
        {
            return new MetricListenerOptions("127.0.0.1", 2003, "", 4096, 1024, false, 1000, 20);
        }
    }
}
