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
/// reason, samples stored, rows scored, models hot and cold, swaps, scores published, and the latency histogram of
/// every service stage. A process of the supervisor layout shows the services it runs; the queue depths (written by
/// <see cref="WebApi"/>) show the others' backlog.
/// </summary>
internal static class ServiceCounters
{
    private const string StageDuration = "htmengine_stage_duration_seconds";

    public static void Write(StringBuilder text, IReadOnlyList<IEngineService> services)
    {
        // The stage histograms of all services form one metric family, so they are gathered and written last, under
        // one HELP/TYPE header (a family's samples must not be split by other families).
        var timings = new List<(string Service, StageTimings Timings)>(3);
        foreach (var service in services)
        {
            switch (service)
            {
                case ListenerService listener:
                    Listener(text, listener.Counters);
                    break;
                case MetricStorerService storer:
                    Storer(text, storer.Counters);
                    timings.Add(("storer", storer.Timings));
                    break;
                case ModelRunnerService models:
                    Models(text, models);
                    timings.Add(("models", models.Counters.Timings));
                    break;
                case AnomalyService anomaly:
                    Anomaly(text, anomaly.Counters);
                    timings.Add(("anomaly", anomaly.Timings));
                    break;
                case MetricGarbageCollectorService gc:
                    Counter(text, "htmengine_gc_deleted_rows_total", "metric_data rows deleted by the garbage collector.", gc.DeletedRows);
                    Counter(text, "htmengine_gc_passes_total", "Passes of the garbage collector.", gc.Passes);
                    break;
            }
        }

        if (timings.Count > 0)
        {
            Stages(text, timings);
        }
    }

    /// <summary>
    /// One Prometheus histogram per service stage, labelled <c>service</c> and <c>stage</c>: the storer's per message
    /// (decode, store, forward, activate), the runners' per model step (score), catch-up read, result publish,
    /// checkpoint save, checkpoint load, model build and metric look-up, the anomaly service's per result message
    /// (metric, commit, publish) or per metric (history, likelihood). Wall-clock seconds, I/O waits included.
    /// </summary>
    private static void Stages(StringBuilder text, List<(string Service, StageTimings Timings)> timings)
    {
        Header(text, StageDuration, "Wall-clock seconds a service spent per call of one of its stages.", "histogram");
        IReadOnlyList<double> bounds = StageTimings.BucketUpperBounds;
        Span<long> cumulative = stackalloc long[StageTimings.BucketCount];
        foreach (var (service, stages) in timings)
        {
            for (int stage = 0; stage < stages.Count; stage++)
            {
                string labels = $"service=\"{service}\",stage=\"{stages.Name(stage)}\"";
                stages.CopyCumulativeBuckets(stage, cumulative);
                for (int i = 0; i < bounds.Count; i++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{StageDuration}_bucket{{{labels},le=\"{bounds[i]:0.######}\"}} {cumulative[i]}\n");
                }

                long count = cumulative[bounds.Count];
                text.Append(CultureInfo.InvariantCulture, $"{StageDuration}_bucket{{{labels},le=\"+Inf\"}} {count}\n");
                text.Append(CultureInfo.InvariantCulture, $"{StageDuration}_sum{{{labels}}} {stages.Elapsed(stage).TotalSeconds:R}\n");
                text.Append(CultureInfo.InvariantCulture, $"{StageDuration}_count{{{labels}}} {count}\n");
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
        Gauge(text, "htmengine_models_cold", "Models of this process's shards that are checkpointed but not in memory.", models.ColdModels);
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
