using System.Text;
using HtmEngine.Ingest;

namespace HtmEngine.Tests.Unit.Ingest;

public class MetricNameTableTests
{
    [Fact]
    public void Same_name_same_id_and_interned_string()
    {
        var table = new MetricNameTable();
        int a = table.GetOrAdd("servers.a.cpu"u8);
        int b = table.GetOrAdd("servers.b.cpu"u8);
        Assert.NotEqual(a, b);
        Assert.Equal(a, table.GetOrAdd("servers.a.cpu"u8));
        Assert.Same(table.GetName(a), table.GetName(a));
        Assert.Equal("servers.b.cpu", table.GetName(b));
        Assert.True(table.GetUtf8Name(b).SequenceEqual("servers.b.cpu"u8));
        Assert.True(table.TryGetId("servers.b.cpu"u8, out int found));
        Assert.Equal(b, found);
        Assert.False(table.TryGetId("nope"u8, out _));
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void Known_names_are_looked_up_without_allocating()
    {
        var table = new MetricNameTable();
        byte[][] names = new byte[500][];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = Encoding.UTF8.GetBytes("servers.host" + i + ".cpu.user;dc=eu");
            table.GetOrAdd(names[i]);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int sum = 0;
        for (int round = 0; round < 10; round++)
        {
            for (int i = 0; i < names.Length; i++)
            {
                sum += table.GetOrAdd(names[i]);
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10 * (names.Length * (names.Length - 1) / 2), sum);
    }

    [Fact]
    public void A_full_table_returns_minus_one_for_new_names_only()
    {
        var table = new MetricNameTable(maxNames: 2);
        Assert.Equal(0, table.GetOrAdd("a"u8));
        Assert.Equal(1, table.GetOrAdd("b"u8));
        Assert.Equal(-1, table.GetOrAdd("c"u8));
        Assert.Equal(1, table.GetOrAdd("b"u8));
    }

    [Fact]
    public void Concurrent_adds_give_each_name_exactly_one_id()
    {
        var table = new MetricNameTable();
        const int Names = 20000;
        int[][] seen = new int[4][];
        Parallel.For(0, 4, t =>
        {
            seen[t] = new int[Names];
            for (int i = 0; i < Names; i++)
            {
                int n = ((i * 7919) + (t * 5003)) % Names;
                seen[t][n] = table.GetOrAdd(Encoding.ASCII.GetBytes("m." + n));
            }
        });

        Assert.Equal(Names, table.Count);
        for (int n = 0; n < Names; n++)
        {
            Assert.Equal("m." + n, table.GetName(seen[0][n]));
            for (int t = 1; t < 4; t++)
            {
                Assert.Equal(seen[0][n], seen[t][n]);
            }
        }
    }
}
