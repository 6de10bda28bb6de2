namespace HtmEngine.Core.Anomaly;

/// <summary>htmengine's <c>rescaleForDisplay</c> (htmengine-spec §8.4): the value stored in <c>display_value</c>.</summary>
public static class DisplayValue
{
    /// <summary>Offset added to red values (log score ≥ 0.5).</summary>
    public const double RedOffset = 1_000_000_000;

    /// <summary>Offset added to yellow values (log score ≥ 0.4).</summary>
    public const double YellowOffset = 1_000_000;

    /// <summary>Offset added to green values.</summary>
    public const double GreenOffset = 1000;

    /// <summary>
    /// 0 for 0; otherwise the log score of |v| (1 when |v| &gt; 0.99999) plus the red/yellow/green bar offset;
    /// scaled by 1e-9 for an inactive metric. The database column is an INTEGER, so MySQL rounds the result.
    /// </summary>
    /// <param name="anomalyScore">The row's <c>anomaly_score</c> (the likelihood).</param>
    /// <param name="active">Whether the metric is active (always true in the anomaly service).</param>
    public static double Compute(double anomalyScore, bool active = true)
    {
        if (anomalyScore == 0)
        {
            return 0;
        }

        double magnitude = Math.Abs(anomalyScore);
        double scaled = magnitude > 0.99999 ? 1.0 : Math.Log(1.0000000001 - magnitude) / Math.Log(1.0 - 0.9999999999);
        if (scaled >= 0.5)
        {
            scaled += RedOffset;
        }
        else if (scaled >= 0.4)
        {
            scaled += YellowOffset;
        }
        else
        {
            scaled += GreenOffset;
        }

        if (!active)
        {
            scaled *= 1e-9;
        }

        return scaled;
    }
}
