namespace HtmEngine.Server.Configuration;

/// <summary>
/// Every option the engine reads, in one table. To add an option: add a row here, add it with a
/// comment to the shipped file in <c>conf/</c> (and <c>tests/conf/</c>), and expose it on the typed
/// record in <see cref="EngineOptions"/>. The loader rejects keys that are not in this table.
/// </summary>
public static class ConfigSchema
{
    /// <summary>The files of a configuration directory, without the <c>.conf</c> extension, in load order.</summary>
    public static IReadOnlyList<string> Files { get; } = ["application", "model-checkpoint", "model-swapper", "rabbitmq"];

    /// <summary>The known options. Keys without a row here are configuration errors.</summary>
    public static IReadOnlyList<ConfigKey> Keys { get; } =
    [
        // application.conf — the seed's keys first, then ours.
        new("application", "debugging", "profiling", ValueKind.Boolean, "false", "log extra timing information"),
        new("application", "repository", "db", ValueKind.Text, "htmengine", "MySQL database name"),
        new("application", "repository", "host", ValueKind.Text, "", "MySQL host; empty = embedded SQLite at sqlite_path"),
        new("application", "repository", "user", ValueKind.Text, "root", "MySQL user"),
        new("application", "repository", "passwd", ValueKind.Secret, "", "MySQL password"),
        new("application", "repository", "port", ValueKind.Port, "3306", "MySQL TCP port"),
        new("application", "repository", "sqlite_path", ValueKind.DataPath, "var/htmengine.db", "embedded SQLite file when host is empty; relative to the application root"),
        new("application", "repository", "retry_budget_seconds", ValueKind.Integer, "30", "seconds a repository call retries transient errors (lost connection, deadlock, server restart) with back-off before it reports them; 0 = no retries") { Min = 0, Max = 86_400 },
        new("application", "metric_streamer", "results_exchange_name", ValueKind.Text, "htmengine.model.results", "fanout exchange that receives model results"),
        new("application", "metric_streamer", "chunk_size", ValueKind.Integer, "1440", "max records per batch streamed to a model") { Min = 1 },
        new("application", "metric_collector", "poll_interval", ValueKind.Integer, "60", "seconds between polls of app-specific collectors (unused by the engine)") { Min = 1 },
        new("application", "metric_collector", "metric_error_grace_period", ValueKind.Integer, "10800", "seconds of errors before a metric goes to ERROR (unused by the engine)") { Min = 0 },
        new("application", "metric_listener", "plaintext_port", ValueKind.Port, "2003", "Graphite plaintext TCP port"),
        new("application", "metric_listener", "queue_name", ValueKind.Text, "htmengine.metric.custom.data", "queue between listener and storer"),
        new("application", "metric_listener", "bind_address", ValueKind.IpAddress, "127.0.0.1", "address the Graphite listener binds"),
        new("application", "metric_listener", "max_line_length", ValueKind.Integer, "4096", "longest accepted Graphite line in bytes") { Min = 64, Max = 1 << 20 },
        new("application", "metric_listener", "max_connections", ValueKind.Integer, "1024", "open Graphite TCP connections allowed at once; more clients wait in the accept backlog") { Min = 1, Max = 1 << 20 },
        new("application", "metric_listener", "udp", ValueKind.Boolean, "false", "also accept Graphite lines as UDP datagrams on plaintext_port"),
        new("application", "metric_listener", "max_batch_size", ValueKind.Integer, "1000", "most samples per message the listener publishes to queue_name") { Min = 1, Max = 1 << 20 },
        new("application", "metric_listener", "flush_delay_ms", ValueKind.Integer, "20", "longest time in ms a partial batch waits before it is published") { Min = 1, Max = 60_000 },
        new("application", "anomaly_likelihood", "statistics_min_sample_size", ValueKind.Integer, "100", "records needed before likelihood statistics are computed") { Min = 1 },
        new("application", "anomaly_likelihood", "statistics_refresh_rate", ValueKind.Integer, "24", "records between refreshes of the likelihood statistics") { Min = 1 },
        new("application", "anomaly_likelihood", "statistics_sample_size", ValueKind.Integer, "8640", "records of history used for the likelihood statistics") { Min = 1 },
        new("application", "metric_garbage_collector", "threshold_days", ValueKind.Integer, "90", "metric_data rows older than this many days are deleted by the gc service (never a metric's newest statistics_sample_size scored rows)") { Min = 1 },
        new("application", "metric_garbage_collector", "interval_seconds", ValueKind.Integer, "3600", "seconds between passes of the gc service") { Min = 1 },
        new("application", "metric_garbage_collector", "batch_size", ValueKind.Integer, "1000", "rows the gc service deletes per transaction") { Min = 1, Max = 1000000 },
        // Both BatchConsumerOptions limits of the storer, the shard runners and the anomaly service. The
        // runners' prefetch is twice max_messages and must fit RabbitMQ's 16-bit prefetch count.
        new("application", "batch_consume", "max_messages", ValueKind.Integer, "64", "most messages a stage (storer, model runner, anomaly service) takes from its queue as one unit; 1 = one at a time") { Min = 1, Max = ushort.MaxValue / 2 },
        new("application", "batch_consume", "max_bytes", ValueKind.Integer, "8388608", "about the most message body bytes in one such unit (a larger single message still comes alone)") { Min = 1 },
        new("application", "web", "listen", ValueKind.Endpoint, "127.0.0.1:8080", "address:port of the HTTP API and pages"),
        new("application", "web", "token", ValueKind.Secret, "", "bearer token that POST/PUT/DELETE calls of the HTTP API must send; required when listen is not a loopback address"),

        // model-checkpoint.conf
        new("model-checkpoint", "storage", "root", ValueKind.AbsolutePath, "${HOME}/htmengine_model_checkpoints", "checkpoint archive directory; must expand to an absolute path"),

        // model-swapper.conf
        new("model-swapper", "debugging", "profiling", ValueKind.Boolean, "false", "log extra timing information"),
        new("model-swapper", "interface_bus", "results_queue", ValueKind.Text, "htmengine.mswapper.results", "queue of model command and inference results"),
        new("model-swapper", "interface_bus", "model_input_queue_prefix", ValueKind.Text, "htmengine.mswapper.model.input.", "prefix of a model's input queue (prefix + model id)"),
        new("model-swapper", "interface_bus", "scheduler_notification_queue", ValueKind.Text, "htmengine.mswapper.scheduler.notification", "queue that wakes the model scheduler"),
        new("model-swapper", "model_runner", "target_requests_per_checkpoint", ValueKind.Integer, "500", "input requests processed between checkpoints of a model") { Min = 1 },
        new("model-swapper", "model_runner", "memory_budget_mb", ValueKind.Integer, "1024", "memory for hot models in MiB; least recently used models beyond it are checkpointed and evicted") { Min = 16 },
        new("model-swapper", "model_runner", "shards", ValueKind.Integer, "0", "model shards (input queues prefix + shard.k, one runner each); 0 = one per processor; every process sharing a broker must agree") { Min = 0, Max = 4096 },

        // rabbitmq.conf (nta.utils kept it apart from the application files)
        new("rabbitmq", "connection", "host", ValueKind.Text, "", "RabbitMQ host; empty = in-process bus"),
        new("rabbitmq", "connection", "port", ValueKind.Port, "5672", "AMQP port"),
        new("rabbitmq", "connection", "virtual_host", ValueKind.Text, "/", "RabbitMQ virtual host"),
        new("rabbitmq", "credentials", "user", ValueKind.Text, "guest", "RabbitMQ user"),
        new("rabbitmq", "credentials", "password", ValueKind.Secret, "guest", "RabbitMQ password"),
        new("rabbitmq", "management", "port", ValueKind.Port, "15672", "management plugin HTTP port"),
    ];
}
