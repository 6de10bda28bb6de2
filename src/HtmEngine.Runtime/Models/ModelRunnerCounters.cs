namespace HtmEngine.Runtime.Models;

/// <summary>What the model runners of one process did since they started; read with <see cref="Snapshot"/>.</summary>
public sealed class ModelRunnerCounters
{
    internal const int StageScore = 0;
    internal const int StageRead = 1;
    internal const int StagePublish = 2;
    internal const int StageCheckpoint = 3;
    internal const int StageLoad = 4;
    internal const int StageBuild = 5;
    internal const int StageLookup = 6;
    private long _rowsScored;
    private long _rowsCaughtUp;
    private long _duplicateRows;
    private long _rowErrors;
    private long _commands;
    private long _commandErrors;
    private long _rejectedMessages;
    private long _failedMessages;
    private long _resultMessages;
    private long _modelsLoaded;
    private long _modelsBuilt;
    private long _evictions;
    private long _checkpointsWritten;
    private long _corruptCheckpoints;
    private long _leftoverTempFiles;

    /// <summary>
    /// Where the runners' time goes, summed over all shards: model steps, catch-up reads from <c>metric_data</c>,
    /// result publishes (confirmed), checkpoint saves, checkpoint loads, model builds, and metric look-ups.
    /// </summary>
    public HtmEngine.Runtime.Hosting.StageTimings Timings { get; } = new("score", "read", "publish", "checkpoint", "load", "build", "lookup");

    /// <summary>A consistent-enough copy of the counters.</summary>
    /// <returns>The values now.</returns>
    public ModelRunnerCountersSnapshot Snapshot() => new(
        Interlocked.Read(ref _rowsScored),
        Interlocked.Read(ref _rowsCaughtUp),
        Interlocked.Read(ref _duplicateRows),
        Interlocked.Read(ref _rowErrors),
        Interlocked.Read(ref _commands),
        Interlocked.Read(ref _commandErrors),
        Interlocked.Read(ref _rejectedMessages),
        Interlocked.Read(ref _failedMessages),
        Interlocked.Read(ref _resultMessages),
        Interlocked.Read(ref _modelsLoaded),
        Interlocked.Read(ref _modelsBuilt),
        Interlocked.Read(ref _evictions),
        Interlocked.Read(ref _checkpointsWritten),
        Interlocked.Read(ref _corruptCheckpoints),
        Interlocked.Read(ref _leftoverTempFiles));

    internal void RowScored(bool caughtUp)
    {
        Interlocked.Increment(ref _rowsScored);
        if (caughtUp)
        {
            Interlocked.Increment(ref _rowsCaughtUp);
        }
    }

    internal void DuplicateRow() => Interlocked.Increment(ref _duplicateRows);

    internal void RowError() => Interlocked.Increment(ref _rowErrors);

    internal void Command(bool failed)
    {
        Interlocked.Increment(ref _commands);
        if (failed)
        {
            Interlocked.Increment(ref _commandErrors);
        }
    }

    internal void RejectedMessage() => Interlocked.Increment(ref _rejectedMessages);

    internal void FailedMessage() => Interlocked.Increment(ref _failedMessages);

    internal void ResultMessage() => Interlocked.Increment(ref _resultMessages);

    internal void ModelLoaded() => Interlocked.Increment(ref _modelsLoaded);

    internal void ModelBuilt() => Interlocked.Increment(ref _modelsBuilt);

    internal void Evicted() => Interlocked.Increment(ref _evictions);

    internal void CheckpointWritten() => Interlocked.Increment(ref _checkpointsWritten);

    internal void CorruptCheckpoint() => Interlocked.Increment(ref _corruptCheckpoints);

    internal void LeftoverTempFile() => Interlocked.Increment(ref _leftoverTempFiles);
}

/// <summary>The counters of <see cref="ModelRunnerCounters"/> at one moment.</summary>
/// <param name="RowsScored">Rows scored (including catch-up).</param>
/// <param name="RowsCaughtUp">Rows read back from <c>metric_data</c> and scored (gaps, define, recovery, rebuilds).</param>
/// <param name="DuplicateRows">Row requests at or below their model's last rowid, skipped.</param>
/// <param name="RowErrors">Rows answered with an error status (no model, bad value).</param>
/// <param name="Commands">defineModel and deleteModel commands handled.</param>
/// <param name="CommandErrors">Commands answered with a non-zero status.</param>
/// <param name="RejectedMessages">Input messages that could not be decoded (dead-lettered).</param>
/// <param name="FailedMessages">Failed units of work: an input message handed back for a retry, or a batch of them that failed and was handled again one message at a time.</param>
/// <param name="ResultMessages">Result messages published (confirmed).</param>
/// <param name="ModelsLoaded">Models loaded from checkpoints.</param>
/// <param name="ModelsBuilt">Models built from a definition (new, or rebuilt after a missing or corrupt checkpoint).</param>
/// <param name="Evictions">Hot models checkpointed and dropped from memory to stay within the budget.</param>
/// <param name="CheckpointsWritten">Checkpoint files written.</param>
/// <param name="CorruptCheckpoints">Checkpoint files found unusable.</param>
/// <param name="LeftoverTempFiles">Temporary checkpoint files found at start-up (interrupted saves).</param>
public readonly record struct ModelRunnerCountersSnapshot(
    long RowsScored,
    long RowsCaughtUp,
    long DuplicateRows,
    long RowErrors,
    long Commands,
    long CommandErrors,
    long RejectedMessages,
    long FailedMessages,
    long ResultMessages,
    long ModelsLoaded,
    long ModelsBuilt,
    long Evictions,
    long CheckpointsWritten,
    long CorruptCheckpoints,
    long LeftoverTempFiles);
