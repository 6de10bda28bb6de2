using HtmEngine.Core.Models;

namespace HtmEngine.Runtime.Adapter;

/// <summary>How the datasource adapter builds and routes models.</summary>
/// <param name="ModelInputQueuePrefix"><c>model-swapper.conf [interface_bus] model_input_queue_prefix</c>.</param>
/// <param name="ShardCount"><c>[model_runner] shards</c>; 0 = one per processor (as the runners resolve it).</param>
public sealed record DatasourceAdapterOptions(string ModelInputQueuePrefix, int ShardCount)
{
    /// <summary>The parameter set of new models (<see cref="ModelParameters.SetNames"/>); default <c>nab</c>.</summary>
    public string ParameterSet { get; init; } = ModelParameters.NabSetName;

    /// <summary>The temporal memory of new models: <c>backtracking</c> (default) or <c>tm</c>.</summary>
    public string TemporalMemory { get; init; } = "backtracking";

    /// <summary>Stored rows needed before min/max are inferred from the data (htmengine: 288, one day of 5-minute data).</summary>
    public int MinRowsForInference { get; init; } = 288;

    /// <summary>How far back <c>exportModel</c> reaches (htmengine: 14 days).</summary>
    public TimeSpan ExportWindow { get; init; } = TimeSpan.FromDays(14);

    /// <summary>The clock of the export window (tests substitute one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws when a value is out of range; the message names the field.</summary>
    public void Validate()
    {
        if (string.IsNullOrEmpty(ModelInputQueuePrefix))
        {
            throw new ArgumentException("DatasourceAdapterOptions.ModelInputQueuePrefix must not be empty", nameof(ModelInputQueuePrefix));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(ShardCount, nameof(ShardCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinRowsForInference, 1, nameof(MinRowsForInference));
        if (!ModelParameters.SetNames.Contains(ParameterSet))
        {
            throw new ArgumentException($"DatasourceAdapterOptions.ParameterSet '{ParameterSet}' is not one of: {string.Join(", ", ModelParameters.SetNames)}", nameof(ParameterSet));
        }

        if (TemporalMemory is not ("backtracking" or "tm"))
        {
            throw new ArgumentException($"DatasourceAdapterOptions.TemporalMemory '{TemporalMemory}' is not 'backtracking' or 'tm'", nameof(TemporalMemory));
        }
    }
}
