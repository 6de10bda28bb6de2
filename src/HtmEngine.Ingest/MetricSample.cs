namespace HtmEngine.Ingest;

/// <summary>One accepted sample: an interned metric name, a finite value and a timestamp in epoch seconds.</summary>
/// <param name="NameId">The id of the metric name in the <see cref="MetricNameTable"/> of the batch that carries it.</param>
/// <param name="Value">The value (finite).</param>
/// <param name="TimestampSeconds">Seconds since the Unix epoch (UTC).</param>
public readonly record struct MetricSample(int NameId, double Value, long TimestampSeconds);
