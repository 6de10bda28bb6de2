using System.Diagnostics;
using HtmEngine.Runtime.Hosting;
using HtmEngine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HtmEngine.Runtime.Gc;

/// <summary>
/// The metric garbage collector (htmengine-spec §1.1, §10.7), off by default: every interval it deletes the
/// <c>metric_data</c> rows older than the threshold, a batch per transaction. Unlike the original it never deletes a
/// metric's newest <see cref="MetricGarbageCollectorOptions.KeepNewestScored"/> scored rows (the likelihood's sample)
/// nor any row after them (rows a model has not scored yet), whatever their timestamps say (spec §12.23: metrics
/// that send old timestamps kept nothing).
/// </summary>
public sealed class MetricGarbageCollectorService : IEngineService
{
    private readonly IMetricRepository _repository;
    private readonly MetricGarbageCollectorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private CancellationTokenSource? _stop;
    private Task? _loop;
    private long _deleted;
    private long _passes;

    /// <summary>Creates the service.</summary>
    /// <param name="repository">The repository.</param>
    /// <param name="options">Threshold, interval, batch size and rows kept.</param>
    /// <param name="loggerFactory">Logging, or null.</param>
    /// <param name="timeProvider">The clock (tests move it); the system clock when null.</param>
    public MetricGarbageCollectorService(IMetricRepository repository, MetricGarbageCollectorOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _repository = repository;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("HtmEngine.Runtime.Gc");
    }

    /// <inheritdoc/>
    public string Name => "gc";

    /// <summary>Rows deleted since start.</summary>
    public long DeletedRows => Interlocked.Read(ref _deleted);

    /// <summary>Passes completed since start.</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stop = new CancellationTokenSource();
        GcLog.Started(_logger, _options.ThresholdDays, _options.Interval.TotalSeconds, _options.BatchSize, _options.KeepNewestScored);
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is null || _loop is null)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }

        _stop.Dispose();
        _stop = null;
        _loop = null;
    }

    /// <summary>One pass over every metric; returns the rows deleted.</summary>
    /// <param name="cancellationToken">Stops the pass between batches.</param>
    /// <returns>Rows deleted.</returns>
    public async Task<long> CollectOnceAsync(CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var threshold = _time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(_options.ThresholdDays);
        var metrics = await _repository.ListMetricsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        long total = 0;
        foreach (var metric in metrics)
        {
            // A metric without a model has no likelihood; its newest rows still stay (monitoring it later infers
            // min/max from them) but scored or not does not matter.
            bool scoredOnly = metric.Status != MetricStatus.Unmonitored;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int deleted;
                try
                {
                    deleted = await _repository.DeleteOldMetricDataAsync(metric.Uid, threshold, _options.KeepNewestScored, scoredOnly, _options.BatchSize, cancellationToken).ConfigureAwait(false);
                }
                catch (MetricNotFoundException)
                {
                    break;
                }

                total += deleted;
                Interlocked.Add(ref _deleted, deleted);
                if (deleted < _options.BatchSize)
                {
                    break;
                }
            }
        }

        Interlocked.Increment(ref _passes);
        GcLog.PassDone(_logger, total, threshold, metrics.Count, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return total;
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await CollectOnceAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A database outage must not end the service; the next pass tries again.
                GcLog.PassFailed(_logger, e, null);
            }

            try
            {
                await Task.Delay(_options.Interval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
