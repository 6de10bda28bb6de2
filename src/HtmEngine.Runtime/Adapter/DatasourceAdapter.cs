using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HtmEngine.Bus;
using HtmEngine.Core.Models;
using HtmEngine.Runtime.Contracts;
using HtmEngine.Runtime.Storer;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Runtime.Adapter;

/// <summary>
/// htmengine's custom datasource adapter (spec §4) as a C# API: create, monitor, unmonitor, activate, export,
/// import and delete metrics, with the status machine of §5. Model commands go to the metric's shard queue
/// (<see cref="ModelShards"/>) after the database change they belong to has committed (htmengine-spec §12.11
/// fixed); a defined model catches up from <c>metric_data</c> by itself, so no backlog is streamed here.
/// Errors are <see cref="HtmEngineException"/>s whose messages name the metric; thread-safe.
/// </summary>
public sealed class DatasourceAdapter
{
    /// <summary>The only datasource this adapter serves.</summary>
    public const string Datasource = "custom";

    private readonly IMetricRepository _repository;
    private readonly DatasourceAdapterOptions _options;
    private readonly ShardQueues _shards;
    private readonly ILogger _logger;

    /// <summary>Creates the adapter.</summary>
    /// <param name="repository">The repository.</param>
    /// <param name="bus">The bus that carries model commands.</param>
    /// <param name="options">Queue prefix, shard count and model choices.</param>
    /// <param name="loggerFactory">Logging, or null for none.</param>
    public DatasourceAdapter(IMetricRepository repository, IMessageBus bus, DatasourceAdapterOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _repository = repository;
        _options = options;
        _shards = new ShardQueues(bus, options.ModelInputQueuePrefix, ShardQueues.Resolve(options.ShardCount));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("HtmEngine.Runtime.Adapter");
    }

    /// <summary>
    /// <c>createMetric(name)</c> (spec §4.1): creates an UNMONITORED custom metric with the storer's defaults.
    /// </summary>
    /// <param name="metricName">The metric name (case-sensitive).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new metric's uid.</returns>
    /// <exception cref="MetricAlreadyExistsException">A custom metric with this name exists; its uid is in the exception.</exception>
    /// <exception cref="InvalidRequestException">The name is empty.</exception>
    public async Task<string> CreateMetricAsync(string metricName, CancellationToken cancellationToken = default)
    {
        var (metric, created) = await GetOrCreateAsync(metricName, cancellationToken).ConfigureAwait(false);
        if (!created)
        {
            throw new MetricAlreadyExistsException($"Custom metric '{metricName}' already exists (uid {metric.Uid})", metric.Uid);
        }

        return metric.Uid;
    }

    /// <summary>
    /// <c>monitorMetric(modelSpec)</c> (spec §4.2). With <c>modelParams.min</c>/<c>max</c> (used as given), with
    /// <c>completeModelParams</c>, or with at least <see cref="DatasourceAdapterOptions.MinRowsForInference"/> stored rows
    /// (min/max of the data padded by 20 %), the model is defined: <c>model_params</c> gets the
    /// <see cref="ModelDefinition"/>, the status becomes CREATE_PENDING and defineModel goes to the shard. Otherwise
    /// the status becomes PENDING_DATA and the storer activates the model once enough rows exist.
    /// </summary>
    /// <param name="modelSpec">The model spec.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The metric's uid.</returns>
    /// <exception cref="InvalidRequestException">The spec is invalid; the message names the field.</exception>
    /// <exception cref="ObjectNotFoundException"><c>metricSpec.uid</c> names no metric.</exception>
    /// <exception cref="MetricNotSupportedException">The metric's datasource is not <c>custom</c>.</exception>
    /// <exception cref="MetricAlreadyMonitoredException">The metric is not UNMONITORED.</exception>
    /// <exception cref="MetricStatusChangedException">The status changed while the call ran.</exception>
    public Task<string> MonitorMetricAsync(JsonObject modelSpec, CancellationToken cancellationToken = default) =>
        MonitorAsync(ModelSpec.From(modelSpec), cancellationToken);

    /// <summary><see cref="MonitorMetricAsync(JsonObject, CancellationToken)"/> with the spec as JSON text.</summary>
    /// <param name="modelSpecJson">The model spec.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The metric's uid.</returns>
    public Task<string> MonitorMetricAsync(string modelSpecJson, CancellationToken cancellationToken = default) =>
        MonitorAsync(ModelSpec.Parse(modelSpecJson), cancellationToken);

    private async Task<string> MonitorAsync(ModelSpec spec, CancellationToken cancellationToken)
    {
        MetricRow metric;
        if (spec.Uid is { } uid)
        {
            metric = await GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            metric = (await GetOrCreateAsync(spec.MetricName!, cancellationToken).ConfigureAwait(false)).Metric;
        }

        RequireCustom(metric);
        if (metric.Status != MetricStatus.Unmonitored)
        {
            throw new MetricAlreadyMonitoredException($"Custom metric '{metric.Name}' ({metric.Uid}) is already monitored (status {StatusName(metric.Status)})", metric.Uid);
        }

        var parameters = spec.CanonicalJson(metric.Name ?? metric.Uid);
        (double Min, double Max, string Source)? range = null;
        if (spec.Min is { } min && spec.Max is { } max)
        {
            range = (min, max, "given");
        }
        else if (spec.CompleteRange is { } complete)
        {
            range = (complete.Min, complete.Max, "completeModelParams");
        }
        else
        {
            var rows = await _repository.GetMetricDataCountAsync(metric.Uid, cancellationToken).ConfigureAwait(false);
            if (rows >= _options.MinRowsForInference || (spec.HasCompleteModelParams && rows > 0))
            {
                if (await InferRangeAsync(metric.Uid, cancellationToken).ConfigureAwait(false) is { } inferred)
                {
                    range = (inferred.Min, inferred.Max, "inferred from " + rows.ToString(CultureInfo.InvariantCulture) + " rows");
                }
            }

            if (range is null && spec.HasCompleteModelParams)
            {
                throw new InvalidRequestException($"completeModelParams of metric '{metric.Name}': no encoder of the value field gives minval/maxval and the metric has no data to infer them from");
            }

            if (range is null)
            {
                if (!await _repository.TryUpdateMonitoringAsync(metric.Uid, MetricStatus.Unmonitored, new MonitoringUpdate(MetricStatus.PendingData, parameters, null, spec.Resource), cancellationToken).ConfigureAwait(false))
                {
                    throw await StatusChangedAsync(metric, "monitorMetric", cancellationToken).ConfigureAwait(false);
                }

                AdapterLog.PendingData(_logger, metric.Name ?? metric.Uid, metric.Uid, rows, _options.MinRowsForInference);
                return metric.Uid;
            }
        }

        var (lo, hi, source) = range.Value;
        await DefineAsync(metric, MetricStatus.Unmonitored, parameters, spec.Resource, lo, hi, spec.MinResolution, source, cancellationToken).ConfigureAwait(false);
        return metric.Uid;
    }

    /// <summary>
    /// <c>activateModel(uid)</c> (spec §4.3), called by the storer when a PENDING_DATA metric has enough rows: min/max
    /// are inferred from the data (padded by 20 %), the stored spec's <c>minResolution</c> is applied (htmengine-spec
    /// §12.12 fixed), the status becomes CREATE_PENDING and defineModel goes to the shard. A metric already
    /// CREATE_PENDING or ACTIVE is left as it is.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ObjectNotFoundException">No such metric.</exception>
    /// <exception cref="MetricNotSupportedException">The metric's datasource is not <c>custom</c>.</exception>
    /// <exception cref="MetricStatisticsNotReadyException">The metric has no data.</exception>
    /// <exception cref="MetricStatusChangedException">The metric is in ERROR, or its status changed while the call ran.</exception>
    public async Task ActivateModelAsync(string uid, CancellationToken cancellationToken = default)
    {
        var metric = await GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
        RequireCustom(metric);
        if (metric.Status is MetricStatus.CreatePending or MetricStatus.Active)
        {
            return;
        }

        if (metric.Status is not (MetricStatus.Unmonitored or MetricStatus.PendingData))
        {
            throw new MetricStatusChangedException($"Metric '{metric.Name}' ({metric.Uid}) is in status {StatusName(metric.Status)}; activateModel needs UNMONITORED or PENDING_DATA");
        }

        var range = await InferRangeAsync(metric.Uid, cancellationToken).ConfigureAwait(false)
            ?? throw new MetricStatisticsNotReadyException($"Metric '{metric.Name}' ({metric.Uid}) has no data to infer min/max from");
        double? minResolution = null;
        if (metric.Parameters is not null)
        {
            try
            {
                minResolution = ModelSpec.Parse(metric.Parameters).MinResolution;
            }
            catch (InvalidRequestException)
            {
                // A spec written by another tool; activation does not depend on it.
            }
        }

        await DefineAsync(metric, metric.Status, null, null, range.Min, range.Max, minResolution, "inferred at activation", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>unmonitorMetric(uid)</c> (spec §4.4): clears the model columns and the scores of the metric's rows, sets
    /// UNMONITORED and sends deleteModel to the shard. Works from any status; the rows stay.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ObjectNotFoundException">No such metric.</exception>
    public async Task UnmonitorMetricAsync(string uid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uid);
        try
        {
            await _repository.ResetModelAsync(uid, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException e)
        {
            throw new ObjectNotFoundException($"Metric with uid '{uid}' not found", e);
        }

        await _shards.PublishAsync(ModelRequest.Delete(uid, NewCommandId()), cancellationToken).ConfigureAwait(false);
        AdapterLog.Unmonitored(_logger, uid);
    }

    /// <summary>
    /// <c>deleteMetricByName(name)</c> (spec §4.5): unmonitors the metric unless it is UNMONITORED, then deletes it
    /// and, by the cascading foreign key, its rows.
    /// </summary>
    /// <param name="metricName">The metric name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ObjectNotFoundException">No custom metric has this name.</exception>
    public async Task DeleteMetricByNameAsync(string metricName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metricName);
        MetricRow metric;
        try
        {
            metric = await _repository.GetCustomMetricByNameAsync(metricName, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException e)
        {
            throw new ObjectNotFoundException($"Custom metric '{metricName}' not found", e);
        }

        if (metric.Status != MetricStatus.Unmonitored)
        {
            await UnmonitorMetricAsync(metric.Uid, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await _repository.DeleteMetricAsync(metric.Uid, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException e)
        {
            throw new ObjectNotFoundException($"Custom metric '{metricName}' ({metric.Uid}) was deleted meanwhile", e);
        }

        AdapterLog.Deleted(_logger, metricName, metric.Uid);
    }

    /// <summary>
    /// <c>exportModel(uid)</c> (spec §4.6): the stored model spec plus <c>data</c>, the <c>[value, "YYYY-MM-DD HH:MM:SS"]</c>
    /// pairs of the rows of the last <see cref="DatasourceAdapterOptions.ExportWindow"/>, in rowid order.
    /// </summary>
    /// <param name="uid">The metric.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The export, ready for <see cref="ImportModelAsync"/>.</returns>
    /// <exception cref="ObjectNotFoundException">No such metric.</exception>
    /// <exception cref="MetricNotSupportedException">The metric's datasource is not <c>custom</c>.</exception>
    /// <exception cref="MetricNotMonitoredException">The metric is UNMONITORED (it has no spec to export).</exception>
    public async Task<JsonObject> ExportModelAsync(string uid, CancellationToken cancellationToken = default)
    {
        var metric = await GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
        RequireCustom(metric);
        if (metric.Parameters is null)
        {
            throw new MetricNotMonitoredException($"Metric '{metric.Name}' ({metric.Uid}) is not monitored; there is no model spec to export");
        }

        JsonObject export;
        try
        {
            export = JsonNode.Parse(metric.Parameters) as JsonObject ?? throw new MetricNotMonitoredException($"Metric '{metric.Name}' ({metric.Uid}): metric.parameters is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new MetricNotMonitoredException($"Metric '{metric.Name}' ({metric.Uid}): metric.parameters is not valid JSON ({e.Message})", e);
        }

        var from = _options.TimeProvider.GetUtcNow().UtcDateTime - _options.ExportWindow;
        var rows = await _repository.GetMetricDataAsync(
            new MetricDataQuery { Uid = metric.Uid, FromTimestamp = from, Fields = MetricDataFields.Timestamp | MetricDataFields.MetricValue },
            cancellationToken).ConfigureAwait(false);
        var data = new JsonArray();
        foreach (var row in rows)
        {
            data.Add((JsonNode)new JsonArray(JsonValue.Create(row.MetricValue), JsonValue.Create(row.Timestamp.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))));
        }

        export["data"] = data;
        return export;
    }

    /// <summary>
    /// <c>importModel(spec)</c> (spec §4.7): creates (or reuses) the metric <c>metricSpec.metric</c>; if it is not
    /// UNMONITORED nothing changes; if it has no rows the export's <c>data</c> is stored; then the spec (without
    /// <c>data</c>) is monitored.
    /// </summary>
    /// <param name="export">What <see cref="ExportModelAsync"/> returned.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The metric's uid.</returns>
    /// <exception cref="InvalidRequestException">The spec or its data is invalid; the message names the field or the pair.</exception>
    public async Task<string> ImportModelAsync(JsonObject export, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(export);
        var spec = (JsonObject)export.DeepClone();
        var data = spec["data"];
        spec.Remove("data");
        var parsed = ModelSpec.From(spec);
        var name = parsed.MetricName ?? throw new InvalidRequestException("importModel: modelSpec.metricSpec.metric is required");
        var samples = ParseImportData(data);
        var (metric, _) = await GetOrCreateAsync(name, cancellationToken).ConfigureAwait(false);
        if (metric.Status != MetricStatus.Unmonitored)
        {
            return metric.Uid;
        }

        var stored = 0;
        if (samples.Length > 0 && await _repository.GetMetricDataCountAsync(metric.Uid, cancellationToken).ConfigureAwait(false) == 0)
        {
            var results = await _repository.StoreSampleBatchAsync([new MetricSamples(metric.Uid, samples)], cancellationToken).ConfigureAwait(false);
            stored = results[0]?.StoredCount ?? 0;
        }

        spec["metricSpec"]!.AsObject().Remove("uid");
        await MonitorAsync(ModelSpec.From(spec), cancellationToken).ConfigureAwait(false);
        AdapterLog.Imported(_logger, name, metric.Uid, stored);
        return metric.Uid;
    }

    private static Sample[] ParseImportData(JsonNode? data)
    {
        if (data is null)
        {
            return [];
        }

        if (data is not JsonArray array)
        {
            throw new InvalidRequestException("importModel: 'data' must be an array of [value, timestamp] pairs");
        }

        var samples = new Sample[array.Count];
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonArray { Count: 2 } pair
                || pair[0] is not JsonValue value || value.GetValueKind() != JsonValueKind.Number
                || pair[1] is not JsonValue ts || ts.GetValueKind() != JsonValueKind.String
                || !DateTime.TryParse(ts.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var timestamp))
            {
                throw new InvalidRequestException($"importModel: data[{i}] must be [number, \"YYYY-MM-DD HH:MM:SS\"], got {array[i]?.ToJsonString() ?? "null"}");
            }

            samples[i] = new Sample(DateTime.SpecifyKind(timestamp, DateTimeKind.Utc), value.GetValue<double>());
        }

        return samples;
    }

    private async Task DefineAsync(MetricRow metric, MetricStatus expected, string? parameters, string? server, double min, double max, double? minResolution, string source, CancellationToken cancellationToken)
    {
        var definition = new ModelDefinition(_options.ParameterSet, min, max, minResolution, _options.TemporalMemory);
        var modelParams = new JsonObject
        {
            ["modelDefinition"] = JsonNode.Parse(definition.ToJson()),
            ["anomalyLikelihood"] = null,
        }.ToJsonString();
        if (!await _repository.TryUpdateMonitoringAsync(metric.Uid, expected, new MonitoringUpdate(MetricStatus.CreatePending, parameters, modelParams, server), cancellationToken).ConfigureAwait(false))
        {
            throw await StatusChangedAsync(metric, "monitorMetric", cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await _shards.PublishAsync(ModelRequest.Define(metric.Uid, NewCommandId(), definition), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The model will never be created; say so where the operator looks (the original meant to, §12.11).
            AdapterLog.DefineFailed(_logger, e, metric.Uid);
            try
            {
                await _repository.SetMetricStatusAsync(metric.Uid, MetricStatus.Error, "defineModel could not be sent: " + e.Message, MetricStatus.CreatePending, CancellationToken.None).ConfigureAwait(false);
            }
            catch (MetricNotFoundException)
            {
                // Deleted or changed meanwhile: nothing to mark.
            }

            throw;
        }

        AdapterLog.ModelDefined(_logger, metric.Name ?? metric.Uid, metric.Uid, min, max, source);
    }

    private async Task<(double Min, double Max)?> InferRangeAsync(string uid, CancellationToken cancellationToken)
    {
        if (await _repository.GetMetricStatsAsync(uid, cancellationToken).ConfigureAwait(false) is not { } stats)
        {
            return null;
        }

        return ModelParameters.PadObservedRange(stats.Min, stats.Max);
    }

    private async Task<HtmEngineException> StatusChangedAsync(MetricRow before, string operation, CancellationToken cancellationToken)
    {
        MetricRow now;
        try
        {
            now = await _repository.GetMetricAsync(before.Uid, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException e)
        {
            return new ObjectNotFoundException($"Metric '{before.Name}' ({before.Uid}) was deleted during {operation}", e);
        }

        return before.Status == MetricStatus.Unmonitored && now.Status != MetricStatus.Unmonitored && operation == "monitorMetric"
            ? new MetricAlreadyMonitoredException($"Custom metric '{now.Name}' ({now.Uid}) was monitored by someone else meanwhile (status {StatusName(now.Status)})", now.Uid)
            : new MetricStatusChangedException($"Metric '{now.Name}' ({now.Uid}) changed status from {StatusName(before.Status)} to {StatusName(now.Status)} during {operation}");
    }

    private async Task<(MetricRow Metric, bool Created)> GetOrCreateAsync(string metricName, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(metricName))
        {
            throw new InvalidRequestException("The metric name must not be empty");
        }

        var result = await _repository.GetOrCreateCustomMetricAsync(metricName, cancellationToken).ConfigureAwait(false);
        if (result.Created)
        {
            AdapterLog.MetricCreated(_logger, metricName, result.Metric.Uid);
        }

        return result;
    }

    private async Task<MetricRow> GetMetricAsync(string uid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uid);
        try
        {
            return await _repository.GetMetricAsync(uid, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricNotFoundException e)
        {
            throw new ObjectNotFoundException($"Metric with uid '{uid}' not found", e);
        }
    }

    private static void RequireCustom(MetricRow metric)
    {
        if (metric.Datasource != Datasource)
        {
            throw new MetricNotSupportedException($"Metric '{metric.Name}' ({metric.Uid}) has datasource '{metric.Datasource}'; this adapter serves only '{Datasource}'");
        }
    }

    private static string NewCommandId() => Guid.NewGuid().ToString("N");

    /// <summary>The spec's name of a status (UNMONITORED, ACTIVE, CREATE_PENDING, ERROR, PENDING_DATA).</summary>
    /// <param name="status">The status.</param>
    /// <returns>The name.</returns>
    public static string StatusName(MetricStatus status) => status switch
    {
        MetricStatus.Unmonitored => "UNMONITORED",
        MetricStatus.Active => "ACTIVE",
        MetricStatus.CreatePending => "CREATE_PENDING",
        MetricStatus.Error => "ERROR",
        MetricStatus.PendingData => "PENDING_DATA",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };
}
