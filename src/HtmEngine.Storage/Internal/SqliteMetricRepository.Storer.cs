using System.Data.Common;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace HtmEngine.Storage.Internal;

/// <summary>The SQLite path of the multi-metric sample store: one prepared statement for every metric of the batch.</summary>
internal sealed partial class SqliteMetricRepository
{
    protected override Task InsertSampleSetsAsync(DbConnection connection, DbTransaction transaction, List<AcceptedSamples> sets, CancellationToken cancellationToken)
    {
        var db = ((SqliteConnection)connection).Handle!;
        var rc = raw.sqlite3_prepare_v2(db, "INSERT INTO metric_data (uid, rowid, timestamp, metric_value) VALUES (?1, ?2, ?3, ?4)", out sqlite3_stmt statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        using (statement)
        {
            foreach (var set in sets)
            {
                SqliteException.ThrowExceptionForRC(raw.sqlite3_bind_text(statement, 1, set.Uid), db);
                var samples = set.Samples.Span;
                for (var i = 0; i < set.Count; i++)
                {
                    var sample = samples[set.Accepted[i]];
                    raw.sqlite3_bind_int64(statement, 2, set.FirstRowid + i);
                    raw.sqlite3_bind_int64(statement, 3, ToUnixSeconds(RoundToSecond(sample.Timestamp)));
                    raw.sqlite3_bind_double(statement, 4, sample.Value);
                    rc = raw.sqlite3_step(statement);
                    if (rc != raw.SQLITE_DONE)
                    {
                        SqliteException.ThrowExceptionForRC(rc, db);
                    }

                    raw.sqlite3_reset(statement);
                }
            }
        }

        return Task.CompletedTask;
    }
}
