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
/// that run in parallel add up to more than the elapsed time.
/// </remarks>
public sealed class StageTimings
{
    private readonly string[] _names;
    private readonly long[] _ticks;
    private readonly long[] _calls;

    /// <summary>Creates timings for the stages named, in the order of their indices.</summary>
    /// <param name="names">One name per stage index.</param>
    public StageTimings(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        _names = names;
        _ticks = new long[names.Length];
        _calls = new long[names.Length];
    }

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
        Interlocked.Add(ref _ticks[stage], now - started);
        Interlocked.Increment(ref _calls[stage]);
        return now;
    }

    /// <summary>Sets every stage back to zero (a benchmark's phases measured apart; calls in flight may land in either).</summary>
    public void Reset()
    {
        for (int i = 0; i < _names.Length; i++)
        {
            Interlocked.Exchange(ref _ticks[i], 0);
            Interlocked.Exchange(ref _calls[i], 0);
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
