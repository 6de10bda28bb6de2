using System.Net;
using System.Net.Sockets;

namespace HtmEngine.Tests;

/// <summary>Free loopback TCP ports for tests that start a server on them.</summary>
internal static class LoopbackPorts
{
    /// <summary>
    /// <paramref name="count"/> distinct ports that were free a moment ago. Every probe stays bound until all are
    /// chosen: a probe closed before the next one binds lets the system hand out the same port twice, and a serve
    /// process told to listen for Graphite and for HTTP on the same port fails to bind the second (a CI run on
    /// 2026-12-07 got 46551 twice).
    /// </summary>
    /// <param name="count">How many ports.</param>
    /// <returns>The ports, all different.</returns>
    public static int[] Free(int count)
    {
        var probes = new TcpListener[count];
        try
        {
            var ports = new int[count];
            for (int i = 0; i < count; i++)
            {
                probes[i] = new TcpListener(IPAddress.Loopback, 0);
                probes[i].Start();
                ports[i] = ((IPEndPoint)probes[i].LocalEndpoint).Port;
            }

            return ports;
        }
        finally
        {
            foreach (var probe in probes)
            {
                probe?.Stop();
            }
        }
    }
}
