using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HtmEngine.Runtime.Listener;
using HtmEngine.Runtime.Models;
using HtmEngine.Server.Hosting;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Integration.Runtime;

/// <summary>Deleting a metric while its rows are still on their way through the models and the anomaly service.</summary>
public abstract partial class EndToEndContract
{
    /// <summary>
    /// Two metrics stream; one is deleted by name as soon as the first half of its rows is stored, while its model and
    /// the anomaly service are still working on them. The deleted metric's rows, scores and checkpoint must go, its late
    /// results must be dropped without harm, the other metric must end scored exactly like the reference, and the
    /// deleted name sending again comes back as a new UNMONITORED metric holding only the rows sent after the delete.
    /// </summary>
    public async Task A_metric_deleted_during_the_stream_is_gone_and_the_other_metric_is_untouched()
    {
        const int Rows = 300;
        const int DeleteAfter = 150;
        string kept = "e2e." + _id + ".kept";
        string deleted = "e2e." + _id + ".deleted";
        var runtime = _runtime!;
        var adapter = EngineComposition.Adapter(Engine, runtime);
        string keptUid = await adapter.MonitorMetricAsync(Spec(kept));
        string deletedUid = await adapter.MonitorMetricAsync(Spec(deleted));

        var start = new DateTime(2024, 5, 1, 0, 0, 0, DateTimeKind.Utc);
        var timestamps = new DateTime[Rows];
        var keptValues = new double[Rows];
        var deletedValues = new double[Rows];
        for (int i = 0; i < Rows; i++)
        {
            timestamps[i] = start.AddMinutes(5 * i);
            keptValues[i] = Math.Round(50 + (30 * Math.Sin(i * 2 * Math.PI / 36)), 2);
            deletedValues[i] = Math.Round(40 + (20 * Math.Cos(i * 2 * Math.PI / 24)), 2);
        }

        int port = _started.OfType<ListenerService>().Single().LocalEndPoint!.Port;
        await SendAsync(port, [kept, deleted], timestamps, [keptValues, deletedValues], 0, DeleteAfter);

        // Delete as soon as the rows are stored: the model shard and the anomaly service are still busy with them.
        await WaitForAsync(
            () => runtime.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = deletedUid }),
            rows => rows.Count == DeleteAfter,
            $"{DeleteAfter} stored rows of {deleted}");
        await adapter.DeleteMetricByNameAsync(deleted);

        await Assert.ThrowsAsync<MetricNotFoundException>(() => runtime.Repository.GetMetricAsync(deletedUid));
        Assert.Empty(await runtime.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = deletedUid }));

        await SendAsync(port, [kept, deleted], timestamps, [keptValues, deletedValues], DeleteAfter, Rows);

        await AssertScoredLikeTheReferenceAsync(kept, keptUid, timestamps, keptValues);

        var again = await WaitForAsync(
            () => TryGetByNameAsync(runtime.Repository, deleted),
            m => m is not null,
            $"{deleted} created again by its new samples");
        Assert.NotEqual(deletedUid, again!.Uid);
        Assert.Equal(MetricStatus.Unmonitored, again.Status);
        var stored = await WaitForAsync(
            () => runtime.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = again.Uid }),
            rows => rows.Count >= Rows - DeleteAfter,
            $"{Rows - DeleteAfter} rows of the new {deleted}");
        Assert.Equal(Rows - DeleteAfter, stored.Count);
        for (int i = 0; i < stored.Count; i++)
        {
            Assert.Equal(i + 1, stored[i].Rowid);
            Assert.Equal(deletedValues[DeleteAfter + i], stored[i].MetricValue);
            Assert.Null(stored[i].RawAnomalyScore);
        }

        // The model went with the metric: its deleteModel succeeded and its checkpoint file is gone.
        await WaitForAsync(
            () => Task.FromResult(CommandResults(deletedUid)),
            results => results.Exists(c => c.Method == "deleteModel"),
            $"the deleteModel result of {deleted}");
        Assert.Contains(CommandResults(deletedUid), c => c.Method == "deleteModel" && c.Status == 0);
        Assert.False(File.Exists(new ModelCheckpointStore(_checkpoints).PathOf(deletedUid)), "checkpoint of the deleted metric still on disk");
        Assert.Empty(await runtime.Repository.GetMetricDataAsync(new MetricDataQuery { Uid = deletedUid }));
    }

    private static string Spec(string name) =>
        "{\"datasource\":\"custom\",\"metricSpec\":{\"metric\":\"" + name + "\"},\"modelParams\":{\"min\":0,\"max\":100}}";

    private static async Task<MetricRow?> TryGetByNameAsync(IMetricRepository repository, string name)
    {
        try
        {
            return await repository.GetCustomMetricByNameAsync(name);
        }
        catch (MetricNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Rows <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive) of every metric, in one connection.</summary>
    private static async Task SendAsync(int port, string[] names, DateTime[] timestamps, double[][] values, int from, int to)
    {
        var text = new StringBuilder();
        for (int i = from; i < to; i++)
        {
            long epoch = (long)(timestamps[i] - DateTime.UnixEpoch).TotalSeconds;
            for (int m = 0; m < names.Length; m++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{names[m]} {values[m][i].ToString("R", CultureInfo.InvariantCulture)} {epoch}\n");
            }
        }

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
    }
}
