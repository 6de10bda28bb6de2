using System.Buffers;
using System.Data.Common;
using System.Globalization;
using MySqlConnector;

namespace HtmEngine.Storage.Internal;

/// <summary>The MySQL bulk path of the multi-metric sample store: one LOAD DATA for every metric of the batch.</summary>
internal sealed partial class MySqlMetricRepository
{
    protected override async Task InsertSampleSetsAsync(DbConnection connection, DbTransaction transaction, List<AcceptedSamples> sets, CancellationToken cancellationToken)
    {
        if (Options.InsertMethod != MySqlInsertMethod.BulkLoad || sets.Count == 1)
        {
            await base.InsertSampleSetsAsync(connection, transaction, sets, cancellationToken).ConfigureAwait(false);
            return;
        }

        var mysql = (MySqlConnection)connection;
        var tx = (MySqlTransaction)transaction;
        var uids = new byte[sets.Count][];
        long size = 0;
        long rows = 0;
        for (var i = 0; i < sets.Count; i++)
        {
            uids[i] = EscapeTsv(sets[i].Uid);
            size += (long)sets[i].Count * (uids[i].Length + 64);
            rows += sets[i].Count;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(4096, size));
        try
        {
            var length = 0;
            for (var i = 0; i < sets.Count; i++)
            {
                var set = sets[i];
                length += WriteTsvAt(buffer.AsSpan(length), uids[i], set.FirstRowid, set.Samples.Span, set.Accepted, set.Count);
            }

            // Every parent metric row is locked FOR UPDATE by this transaction (see InsertSamplesAsync).
            await SetForeignKeyChecksAsync(mysql, tx, false, cancellationToken).ConfigureAwait(false);
            var loaded = await LoadMetricDataTsvAsync(mysql, buffer, length, cancellationToken).ConfigureAwait(false);
            if (loaded != rows)
            {
                throw new StorageException($"bulk load of {sets.Count} metrics stored {loaded} of {rows} rows");
            }

            await SetForeignKeyChecksAsync(mysql, tx, true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int WriteTsvAt(Span<byte> span, byte[] uid, long firstRowid, ReadOnlySpan<Sample> samples, int[] accepted, int acceptedCount)
    {
        var p = 0;
        for (var i = 0; i < acceptedCount; i++)
        {
            var sample = samples[accepted[i]];
            uid.CopyTo(span[p..]);
            p += uid.Length;
            span[p++] = (byte)'\t';
            (firstRowid + i).TryFormat(span[p..], out var w, default, CultureInfo.InvariantCulture);
            p += w;
            span[p++] = (byte)'\t';
            RoundToSecond(sample.Timestamp).TryFormat(span[p..], out w, "yyyy'-'MM'-'dd HH':'mm':'ss", CultureInfo.InvariantCulture);
            p += w;
            span[p++] = (byte)'\t';
            sample.Value.TryFormat(span[p..], out w, "R", CultureInfo.InvariantCulture);
            p += w;
            span[p++] = (byte)'\n';
        }

        return p;
    }
}
