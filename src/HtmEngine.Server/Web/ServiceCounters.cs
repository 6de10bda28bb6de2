using System.Globalization;
using System.Text;
using HtmEngine.Ingest;
using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Gc;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Runtime.Listener;
using HtmEngine.Runtime.Models;
using HtmEngine.Runtime.Storer;

namespace HtmEngine.Server.Web;

/// <summary>
/// Writes the counters of the services running in this process as Prometheus text: lines accepted and rejected by
/// reason, samples stored, rows scored, models hot, swaps, scores published. A process of the supervisor layout shows
/// the services it runs; the queue depths (written by <see cref="WebApi"/>) show the others' backlog.
/// </summary>
internal static class ServiceCounters
{
    public static void Write(StringBuilder text, IReadOnlyList<IEngineService> services)
    {
        foreach (var service in services)
        {
            switch (service)
            {
                case ListenerService listener:
                    Listener(text, listener.Counters);
                    break;
                case MetricStorerService storer:
                    Storer(text, storer.Counters);
                    break;
                case ModelRunnerService models:
                    Models(text, models);
                    break;
                case AnomalyService anomaly:
                    Anomaly(text, anomaly.Counters);
                    break;
                case MetricGarbageCollectorService gc:
                    Counter(text, "htmengine_gc_deleted_rows_total", "metric_data rows deleted by the garbage collector.", gc.DeletedRows);
                    Counter(text, "htmengine_gc_passes_total", "Passes of the garbage collector.", gc.Passes);
                    break;
            }
        }
    }

    private static void Listener(StringBuilder text, GraphiteListenerCounters c)
    {
        Counter(text, "htmengine_listener_lines_accepted_total", "Graphite lines accepted.", c.LinesAccepted);
        Header(text, "htmengine_listener_lines_rejected_total", "Graphite lines rejected, by reason.", "counter");
        foreach (var reason in Enum.GetValues<GraphiteRejectReason>())
        {
            Sample(text, "htmengine_listener_lines_rejected_total", "reason", reason.ToString(), c.GetLinesRejected(reason));
        }

        Counter(text, "htmengine_listener_bytes_total", "Bytes received by the Graphite listener.", c.BytesReceived);
        Gauge(text, "htmengine_listener_connections_open", "Open Graphite connections.", c.ConnectionsOpen);
        Counter(text, "htmengine_listener_samples_delivered_total", "Samples handed to the metric data queue.", c.SamplesDelivered);
        Counter(text, "htmengine_listener_samples_dropped_total", "Samples the listener could not hand on.", c.SamplesDropped);
    }

    private static void Storer(StringBuilder text, MetricStorerCounters c)
    {
        Counter(text, "htmengine_storer_samples_stored_total", "Samples stored in metric_data.", c.SamplesStored);
        Counter(text, "htmengine_storer_rows_forwarded_total", "Rows forwarded to the model shards.", c.RowsForwarded);
        Counter(text, "htmengine_storer_metrics_created_total", "Metrics created by their first sample.", c.MetricsCreated);
        Counter(text, "htmengine_storer_messages_dead_lettered_total", "Messages the storer gave up on.", c.MessagesDeadLettered);
        Header(text, "htmengine_storer_samples_rejected_total", "Samples the storer rejected, by reason.", "counter");
        foreach (var reason in Enum.GetValues<StorerRejectReason>())
        {
            Sample(text, "htmengine_storer_samples_rejected_total", "reason", reason.ToString(), c.Rejected(reason));
        }
    }

    private static void Models(StringBuilder text, ModelRunnerService models)
    {
        var c = models.Counters.Snapshot();
        Gauge(text, "htmengine_models_hot", "Models in memory in this process.", models.HotModels);
        Gauge(text, "htmengine_models_hot_bytes", "Estimated bytes of the models in memory.", models.HotModelBytes);
        Counter(text, "htmengine_models_rows_scored_total", "Rows scored by the models.", c.RowsScored);
        Counter(text, "htmengine_models_evictions_total", "Models checkpointed and evicted (swapped out).", c.Evictions);
        Counter(text, "htmengine_models_loaded_total", "Models loaded from checkpoints (swapped in).", c.ModelsLoaded);
        Counter(text, "htmengine_models_checkpoints_written_total", "Checkpoint files written.", c.CheckpointsWritten);
        Counter(text, "htmengine_models_row_errors_total", "Rows a model could not score.", c.RowErrors);
    }

    private static void Anomaly(StringBuilder text, AnomalyServiceCounters c)
    {
        Counter(text, "htmengine_anomaly_rows_scored_total", "Rows given an anomaly likelihood.", c.Scored);
        Counter(text, "htmengine_anomaly_results_published_total", "Result messages published to the results exchange.", c.Published);
        Counter(text, "htmengine_anomaly_results_dropped_total", "Results dropped (metric gone or unmonitored).", c.Dropped);
    }

    private static void Counter(StringBuilder text, string name, string help, long value)
    {
        Header(text, name, help, "counter");
        text.Append(CultureInfo.InvariantCulture, $"{name} {value}\n");
    }

    private static void Gauge(StringBuilder text, string name, string help, long value)
    {
        Header(text, name, help, "gauge");
        text.Append(CultureInfo.InvariantCulture, $"{name} {value}\n");
    }

    private static void Header(StringBuilder text, string name, string help, string type) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    private static void Sample(StringBuilder text, string name, string label, string value, long count) =>
        text.Append(CultureInfo.InvariantCulture, $"{name}{{{label}=\"{value}\"}} {count}\n");
}
