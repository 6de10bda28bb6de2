namespace HtmEngine.Server.Configuration;

/// <summary>The MySQL repository, or the embedded SQLite file when <see cref="Host"/> is empty.</summary>
/// <param name="Database">Database name.</param>
/// <param name="Host">MySQL host; empty selects embedded SQLite.</param>
/// <param name="User">MySQL user.</param>
/// <param name="Password">MySQL password.</param>
/// <param name="Port">MySQL TCP port.</param>
/// <param name="SqlitePath">Absolute path of the embedded database file.</param>
/// <param name="RetryBudgetSeconds">Seconds a repository call retries transient errors before reporting them.</param>
public sealed record RepositoryOptions(string Database, string Host, string User, string Password, int Port, string SqlitePath, int RetryBudgetSeconds)
{
    /// <summary>True when no MySQL host is configured: the engine keeps its data in <see cref="SqlitePath"/>.</summary>
    public bool UsesEmbeddedStorage => Host.Length == 0;
}

/// <summary>The RabbitMQ broker, or the in-process bus when <see cref="Host"/> is empty.</summary>
/// <param name="Host">Broker host; empty selects the in-process bus.</param>
/// <param name="Port">AMQP port.</param>
/// <param name="VirtualHost">Virtual host.</param>
/// <param name="User">User name.</param>
/// <param name="Password">Password.</param>
/// <param name="ManagementPort">Port of the management plugin's HTTP API.</param>
public sealed record BusOptions(string Host, int Port, string VirtualHost, string User, string Password, int ManagementPort)
{
    /// <summary>True when no broker host is configured: services talk through the in-process bus.</summary>
    public bool UsesInProcessBus => Host.Length == 0;
}

/// <summary>The Graphite listener.</summary>
/// <param name="BindAddress">Address to bind.</param>
/// <param name="PlaintextPort">Graphite plaintext port.</param>
/// <param name="QueueName">Queue between listener and storer.</param>
/// <param name="MaxLineLength">Longest accepted line in bytes.</param>
/// <param name="MaxConnections">Open TCP connections allowed at once.</param>
/// <param name="Udp">Also accept UDP datagrams on the same port.</param>
/// <param name="MaxBatchSize">Most samples per published message.</param>
/// <param name="FlushDelayMs">Longest wait of a partial batch, in milliseconds.</param>
public sealed record MetricListenerOptions(string BindAddress, int PlaintextPort, string QueueName, int MaxLineLength,
    int MaxConnections, bool Udp, int MaxBatchSize, int FlushDelayMs);

/// <summary>The metric streamer (storer side).</summary>
/// <param name="ResultsExchangeName">Fanout exchange receiving model results.</param>
/// <param name="ChunkSize">Max records per batch streamed to a model.</param>
public sealed record MetricStreamerOptions(string ResultsExchangeName, int ChunkSize);

/// <summary>The seed template's collector settings; kept for compatibility, not used by the engine.</summary>
/// <param name="PollInterval">Seconds between polls.</param>
/// <param name="MetricErrorGracePeriod">Seconds of errors before a metric goes to ERROR.</param>
public sealed record MetricCollectorOptions(int PollInterval, int MetricErrorGracePeriod);

/// <summary>Anomaly likelihood statistics.</summary>
/// <param name="MinSampleSize">Records needed before statistics are computed.</param>
/// <param name="RefreshRate">Records between refreshes.</param>
/// <param name="SampleSize">Records of history used.</param>
public sealed record AnomalyLikelihoodOptions(int MinSampleSize, int RefreshRate, int SampleSize);

/// <summary>application.conf <c>[batch_consume]</c>: how many waiting messages the storer, the model runners and the anomaly service handle as one unit.</summary>
/// <param name="MaxMessages">Most messages per unit.</param>
/// <param name="MaxBytes">About the most body bytes per unit.</param>
public sealed record BatchConsumeOptions(int MaxMessages, int MaxBytes);

/// <summary>The metric garbage collector (service <c>gc</c>, off by default).</summary>
/// <param name="ThresholdDays">Rows older than this many days may be deleted.</param>
/// <param name="IntervalSeconds">Seconds between passes.</param>
/// <param name="BatchSize">Rows deleted per transaction.</param>
public sealed record MetricGarbageCollectorConfig(int ThresholdDays, int IntervalSeconds, int BatchSize);

/// <summary>The model swapper: queue names and runner limits.</summary>
/// <param name="Profiling">Log extra timing information.</param>
/// <param name="ResultsQueue">Queue of model results.</param>
/// <param name="ModelInputQueuePrefix">Prefix of per-model input queues.</param>
/// <param name="SchedulerNotificationQueue">Queue that wakes the scheduler.</param>
/// <param name="TargetRequestsPerCheckpoint">Requests between checkpoints.</param>
/// <param name="MemoryBudgetMb">Memory for hot models in MiB.</param>
/// <param name="Shards">Model shards; 0 = one per processor.</param>
public sealed record ModelSwapperOptions(bool Profiling, string ResultsQueue, string ModelInputQueuePrefix,
    string SchedulerNotificationQueue, int TargetRequestsPerCheckpoint, int MemoryBudgetMb, int Shards);

/// <summary>application.conf <c>[web]</c>: the HTTP API and pages.</summary>
/// <param name="Listen">Address and port to bind.</param>
/// <param name="Token">Bearer token mutating calls must carry; empty = none (allowed on loopback only).</param>
public sealed record WebOptions(ListenEndpoint Listen, string Token)
{
    /// <inheritdoc/>
    public override string ToString() => $"WebOptions {{ Listen = {Listen}, Token = {(Token.Length == 0 ? "(none)" : "***")} }}";
}

/// <summary>
/// The whole validated configuration as immutable typed records. Built only by
/// <see cref="ConfigLoader"/>; every property is already checked.
/// </summary>
/// <param name="Directory">The configuration directory it was loaded from.</param>
/// <param name="Profiling">application.conf [debugging] profiling.</param>
/// <param name="Repository">application.conf [repository].</param>
/// <param name="MetricStreamer">application.conf [metric_streamer].</param>
/// <param name="MetricCollector">application.conf [metric_collector].</param>
/// <param name="MetricListener">application.conf [metric_listener].</param>
/// <param name="AnomalyLikelihood">application.conf [anomaly_likelihood].</param>
/// <param name="Web">application.conf [web].</param>
/// <param name="CheckpointRoot">model-checkpoint.conf [storage] root, absolute.</param>
/// <param name="ModelSwapper">model-swapper.conf.</param>
/// <param name="Bus">rabbitmq.conf.</param>
/// <param name="GarbageCollector">application.conf [metric_garbage_collector].</param>
/// <param name="BatchConsume">application.conf [batch_consume].</param>
public sealed record EngineOptions(
    string Directory,
    bool Profiling,
    RepositoryOptions Repository,
    MetricStreamerOptions MetricStreamer,
    MetricCollectorOptions MetricCollector,
    MetricListenerOptions MetricListener,
    AnomalyLikelihoodOptions AnomalyLikelihood,
    WebOptions Web,
    string CheckpointRoot,
    ModelSwapperOptions ModelSwapper,
    BusOptions Bus,
    MetricGarbageCollectorConfig GarbageCollector,
    BatchConsumeOptions BatchConsume)
{
    /// <summary>True when the repository is the embedded SQLite file.</summary>
    public bool UsesEmbeddedStorage => Repository.UsesEmbeddedStorage;

    /// <summary>True when the bus is in-process.</summary>
    public bool UsesInProcessBus => Bus.UsesInProcessBus;

    /// <summary>Maps checked values onto the typed records.</summary>
    public static EngineOptions Bind(ConfigValues v)
    {
        ArgumentNullException.ThrowIfNull(v);
        const string App = "application";
        const string Swapper = "model-swapper";
        const string Rabbit = "rabbitmq";
        return new EngineOptions(
            v.Directory,
            v.Boolean(App, "debugging", "profiling"),
            new RepositoryOptions(
                v.Text(App, "repository", "db"),
                v.Text(App, "repository", "host"),
                v.Text(App, "repository", "user"),
                v.Text(App, "repository", "passwd"),
                v.Port(App, "repository", "port"),
                v.Text(App, "repository", "sqlite_path"),
                (int)v.Integer(App, "repository", "retry_budget_seconds")),
            new MetricStreamerOptions(
                v.Text(App, "metric_streamer", "results_exchange_name"),
                (int)v.Integer(App, "metric_streamer", "chunk_size")),
            new MetricCollectorOptions(
                (int)v.Integer(App, "metric_collector", "poll_interval"),
                (int)v.Integer(App, "metric_collector", "metric_error_grace_period")),
            new MetricListenerOptions(
                v.Text(App, "metric_listener", "bind_address"),
                v.Port(App, "metric_listener", "plaintext_port"),
                v.Text(App, "metric_listener", "queue_name"),
                (int)v.Integer(App, "metric_listener", "max_line_length"),
                (int)v.Integer(App, "metric_listener", "max_connections"),
                v.Boolean(App, "metric_listener", "udp"),
                (int)v.Integer(App, "metric_listener", "max_batch_size"),
                (int)v.Integer(App, "metric_listener", "flush_delay_ms")),
            new AnomalyLikelihoodOptions(
                (int)v.Integer(App, "anomaly_likelihood", "statistics_min_sample_size"),
                (int)v.Integer(App, "anomaly_likelihood", "statistics_refresh_rate"),
                (int)v.Integer(App, "anomaly_likelihood", "statistics_sample_size")),
            new WebOptions(v.Endpoint(App, "web", "listen"), v.Text(App, "web", "token")),
            v.Text("model-checkpoint", "storage", "root"),
            new ModelSwapperOptions(
                v.Boolean(Swapper, "debugging", "profiling"),
                v.Text(Swapper, "interface_bus", "results_queue"),
                v.Text(Swapper, "interface_bus", "model_input_queue_prefix"),
                v.Text(Swapper, "interface_bus", "scheduler_notification_queue"),
                (int)v.Integer(Swapper, "model_runner", "target_requests_per_checkpoint"),
                (int)v.Integer(Swapper, "model_runner", "memory_budget_mb"),
                (int)v.Integer(Swapper, "model_runner", "shards")),
            new BusOptions(
                v.Text(Rabbit, "connection", "host"),
                v.Port(Rabbit, "connection", "port"),
                v.Text(Rabbit, "connection", "virtual_host"),
                v.Text(Rabbit, "credentials", "user"),
                v.Text(Rabbit, "credentials", "password"),
                v.Port(Rabbit, "management", "port")),
            new MetricGarbageCollectorConfig(
                (int)v.Integer(App, "metric_garbage_collector", "threshold_days"),
                (int)v.Integer(App, "metric_garbage_collector", "interval_seconds"),
                (int)v.Integer(App, "metric_garbage_collector", "batch_size")),
            new BatchConsumeOptions(
                (int)v.Integer(App, "batch_consume", "max_messages"),
                (int)v.Integer(App, "batch_consume", "max_bytes")));
    }
}
