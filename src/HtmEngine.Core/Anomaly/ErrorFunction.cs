namespace HtmEngine.Core.Anomaly;

/// <summary>
/// The complementary error function as the Python interpreter that produced NAB's reference results evaluated
/// it (CPython 2.7's <c>math.erfc</c>): a Maclaurin series of erf for |x| &lt; 1.5 and a continued fraction
/// (Numerical Recipes, 2nd ed.) for larger |x|. The NAB likelihood calls it once per record.
/// </summary>
/// <remarks>
/// The algorithm is written here from its mathematical description. Against the C library's <c>erfc</c> (glibc)
/// it agrees to about 2e-15 relative for |x| ≤ 5 (12 ulps at x = 3) and 6e-14 at worst on [−30, 30] (near
/// x = 26, from the rounding of x²). It is deliberately this algorithm rather than a correctly rounded erfc:
/// replaying NAB's published raw scores through the likelihood reproduces every published final score with it,
/// and only 99.96 % of them with glibc's erfc.
/// </remarks>
public static class ErrorFunction
{
    private const double SeriesCutoff = 1.5;
    private const int SeriesTerms = 25;
    private const double ContinuedFractionCutoff = 30.0;
    private const int ContinuedFractionTerms = 50;
    private const double SqrtPi = 1.772453850905516027298167483341145182798;

    /// <summary>erfc(x) = 1 − erf(x). Returns NaN for NaN, 0 for x ≥ 30, 2 for x ≤ −30.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }

        double absX = Math.Abs(x);
        if (absX < SeriesCutoff)
        {
            return 1.0 - ErfSeries(x);
        }

        double cf = ErfcContinuedFraction(absX);
        return x > 0.0 ? cf : 2.0 - cf;
    }

    /// <summary>erf(x) = 1 − erfc(x), with the series used directly for |x| &lt; 1.5.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }

        double absX = Math.Abs(x);
        if (absX < SeriesCutoff)
        {
            return ErfSeries(x);
        }

        double cf = ErfcContinuedFraction(absX);
        return x > 0.0 ? 1.0 - cf : cf - 1.0;
    }

    // erf(x) = 2x·exp(−x²)/√π · Σₖ (2x²)ᵏ / (1·3·…·(2k+1)), summed from the innermost term outwards:
    // acc ← 2 + x²·acc/(k + ½) for k = 24.5, 23.5, …, 0.5, which leaves 2·Σ above in acc.
    private static double ErfSeries(double x)
    {
        double x2 = x * x;
        double acc = 0.0;
        double fk = SeriesTerms + 0.5;
        for (int i = 0; i < SeriesTerms; i++)
        {
            acc = 2.0 + (x2 * acc / fk);
            fk -= 1.0;
        }

        return acc * x * Math.Exp(-x2) / SqrtPi;
    }

    // erfc(x) = exp(−x²)/√π · x / (x² + ½ − (½·1)/(x² + 5/2 − (3/2·2)/(x² + 9/2 − …))), evaluated forwards with
    // the three-term recurrences for numerator p and denominator q (50 terms, enough for x ≥ 1.5).
    private static double ErfcContinuedFraction(double x)
    {
        if (x >= ContinuedFractionCutoff)
        {
            return 0.0;
        }

        double x2 = x * x;
        double a = 0.0;
        double da = 0.5;
        double p = 1.0;
        double pPrevious = 0.0;
        double q = da + x2;
        double qPrevious = 1.0;
        for (int i = 0; i < ContinuedFractionTerms; i++)
        {
            a += da;
            da += 2.0;
            double b = da + x2;
            double t = p;
            p = (b * p) - (a * pPrevious);
            pPrevious = t;
            t = q;
            q = (b * q) - (a * qPrevious);
            qPrevious = t;
        }

        return p / q * x * Math.Exp(-x2) / SqrtPi;
    }
}
