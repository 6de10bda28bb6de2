namespace HtmEngine.Tests.Unit;

public class LoopbackPortsTests
{
    [Fact]
    public void Ports_asked_for_together_are_all_different_and_free_afterwards()
    {
        int[] ports = LoopbackPorts.Free(64);
        Assert.Equal(ports.Length, new HashSet<int>(ports).Count);
        foreach (int port in ports)
        {
            // Each probe was released: a server can take the port now.
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
        }
    }
}
