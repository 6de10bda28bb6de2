using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace HtmEngine.Runtime.Hosting;

/// <summary>
/// Wall-clock time a service spent in each of its stages, summed over every call, and how many calls there were:
/// where the time of a message goes (docs/engine-design.md "Where the time goes"). Cheap enough for hot paths: a
/// timestamp read and two interlocked adds per stage.
/// </summary>
/// <remarks>
/// Times are wall clock, so a stage that awaits I/O (a commit, a confirm) counts its waiting, and stages of services
/// that run in parallel add up to more than the elapsed time. Each call is also counted in one bucket of a fixed
/// latency histogram (<see cref="BucketUpperBounds"/>), which <c>/metrics</c> shows as Prometheus histograms.
/// </remarks>
public sealed class StageTimings
{
    // Upper bounds in seconds, shared by every stage: one model step takes ~0.1-2 ms, a confirmed publish or a commit
    // 1-20 ms on the servers, a checkpoint save or a MariaDB batch under load up to seconds, so the buckets run from
    // 50 µs to 10 s, roughly 2.5x apart (Prometheus' default buckets start at 5 ms, too coarse for a model step).
    private static readonly double[] s_boundsSeconds =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly long[] s_boundsTicks = Array.ConvertAll(s_boundsSeconds, s => (long)Math.Ceiling(s * Stopwatch.Frequency));

    private readonly string[] _names;
    private readonly long[] _ticks;
    private readonly long[] _calls;

    // Per stage, BucketCount non-cumulative counters: calls with a duration in (bound[i-1], bound[i]]; the last
    // counter takes everything above the largest bound.
    private readonly long[] _buckets;

    /// <summary>Creates timings for the stages named, in the order of their indices.</summary>
    /// <param name="names">One name per stage index.</param>
    public StageTimings(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        _names = names;
        _ticks = new long[names.Length];
        _calls = new long[names.Length];
        _buckets = new long[names.Length * BucketCount];
    }

    /// <summary>The histogram's upper bounds in seconds, ascending; a last, unbounded bucket (<c>+Inf</c>) follows them.</summary>
    public static IReadOnlyList<double> BucketUpperBounds => s_boundsSeconds;

    /// <summary>Buckets per stage: one per upper bound plus the unbounded one.</summary>
    public static int BucketCount => s_boundsSeconds.Length + 1;

    /// <summary>The number of stages.</summary>
    public int Count => _names.Length;

    /// <summary>A stage's name.</summary>
    /// <param name="stage">The stage index.</param>
    /// <returns>The name.</returns>
    public string Name(int stage) => _names[stage];

    /// <summary>The time spent in a stage so far.</summary>
    /// <param name="stage">The stage index.</param>
    /// <returns>The summed time.</returns>
    public TimeSpan Elapsed(int stage) => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks[stage]));

    /// <summary>How many times a stage ran.</summary>
    /// <param name="stage">The stage index.</param>
    /// <returns>The count.</returns>
    public long Calls(int stage) => Interlocked.Read(ref _calls[stage]);

    /// <summary>Adds the time from <paramref name="started"/> (a <see cref="Stopwatch.GetTimestamp"/>) to now to a stage; returns now.</summary>
    /// <param name="stage">The stage index.</param>
    /// <param name="started">When the stage began.</param>
    /// <returns>The timestamp now, so consecutive stages can chain.</returns>
    public long Add(int stage, long started)
    {
        long now = Stopwatch.GetTimestamp();
        long elapsed = now - started;
        Interlocked.Add(ref _ticks[stage], elapsed);
        Interlocked.Increment(ref _calls[stage]);
        int bucket = 0;
        long[] bounds = s_boundsTicks;
        while (bucket < bounds.Length && elapsed > bounds[bucket])
        {
            bucket++;
        }

        Interlocked.Increment(ref _buckets[(stage * BucketCount) + bucket]);
        return now;
    }

    /// <summary>
    /// Copies a stage's histogram as cumulative counts (Prometheus' <c>le</c> buckets): element i counts the calls that
    /// took at most <see cref="BucketUpperBounds"/>[i] seconds, the last element counts every call. Read bucket by
    /// bucket while calls go on, so the last element, not <see cref="Calls"/>, is the count that matches the buckets.
    /// </summary>
    /// <param name="stage">The stage index.</param>
    /// <param name="cumulative">At least <see cref="BucketCount"/> elements.</param>
    public void CopyCumulativeBuckets(int stage, Span<long> cumulative)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cumulative.Length, BucketCount);
        long total = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            total += Interlocked.Read(ref _buckets[(stage * BucketCount) + i]);
            cumulative[i] = total;
        }
    }

    /// <summary>Sets every stage back to zero (a benchmark's phases measured apart; calls in flight may land in either).</summary>
    public void Reset()
    {
        for (int i = 0; i < _names.Length; i++)
        {
            Interlocked.Exchange(ref _ticks[i], 0);
            Interlocked.Exchange(ref _calls[i], 0);
        }

        for (int i = 0; i < _buckets.Length; i++)
        {
            Interlocked.Exchange(ref _buckets[i], 0);
        }
    }

    /// <summary>Every stage as <c>name=seconds s/calls</c>, separated by spaces (stages never run are left out).</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (int i = 0; i < _names.Length; i++)
        {
            long calls = Calls(i);
            if (calls == 0)
            {
                continue;
            }

            if (text.Length > 0)
            {
                text.Append(' ');
            }

            text.Append(CultureInfo.InvariantCulture, $"{_names[i]}={Elapsed(i).TotalSeconds:F2}s/{calls}");
        }

        return text.ToString();
    }
}
