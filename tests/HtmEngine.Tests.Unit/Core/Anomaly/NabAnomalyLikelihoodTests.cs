using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Tests.Unit.Core.Anomaly;

public class NabAnomalyLikelihoodTests
{
    [Fact]
    public void Probation_returns_exactly_one_half()
    {
        var l = new NabAnomalyLikelihood(learningPeriod: 150, estimationSamples: 150);
        for (int i = 0; i < 300; i++)
        {
            Assert.Equal(0.5, l.AnomalyProbability(i % 7, i % 3 == 0 ? 1.0 : 0.0, i));
        }

        Assert.False(l.HasDistribution);
        l.AnomalyProbability(1, 0, 300);
        Assert.True(l.HasDistribution);
    }

    [Fact]
    public void Log_score_matches_the_published_constants()
    {
        Assert.Equal(0.0301029996, NabAnomalyLikelihood.LogScore(0.5), 9);
        Assert.Equal(1.0, NabAnomalyLikelihood.LogScore(1.0), 12);
        Assert.Equal(NabAnomalyLikelihood.LogScoreDenominator, Math.Log(1.0 - 0.9999999999), 12);
        Assert.Equal(0.0, NabAnomalyLikelihood.LogScore(0.0000000001), 15);
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(1, 0, 1)]
    [InlineData(750, 375, 375)]
    [InlineData(751, 375, 376)]
    [InlineData(604, 302, 302)]
    public void Probation_split(int p, int learning, int estimation)
    {
        Assert.Equal((learning, estimation), NabAnomalyLikelihood.ForProbation(p));
    }

    [Theory]
    [InlineData(4032, 604)]
    [InlineData(10320, 750)]
    [InlineData(1127, 169)]
    [InlineData(5000, 750)]
    [InlineData(4999, 749)]
    [InlineData(20, 3)]
    [InlineData(0, 0)]
    public void Nab_probationary_period(int length, int expected)
    {
        Assert.Equal(expected, NabAnomalyLikelihood.NabProbationaryPeriod(length));
    }

    [Fact]
    public void Flat_metric_gets_the_null_distribution()
    {
        var l = new NabAnomalyLikelihood(10, 10);
        var rng = new Random(3);
        for (int i = 0; i < 500; i++)
        {
            double score = l.AnomalyProbability(42.0, rng.NextDouble(), i);
            if (i >= 20)
            {
                Assert.Equal(0.5, l.DistributionMean);
                Assert.Equal(1e6, l.DistributionVariance);
                Assert.Equal(1e3, l.DistributionStdev);
                Assert.InRange(score, 0.4995, 0.5005);
            }
        }
    }

    [Fact]
    public void Too_short_history_for_the_skip_gets_the_null_distribution()
    {
        // learning 300 > history at the first fit (iteration 10): skip = min(10, 300) = 10 ≥ m = 10.
        var l = new NabAnomalyLikelihood(learningPeriod: 5, estimationSamples: 5, historicWindowSize: 8640);
        var big = new NabAnomalyLikelihood(learningPeriod: 300, estimationSamples: 0, historicWindowSize: 8640);
        for (int i = 0; i < 300; i++)
        {
            big.AnomalyProbability(i, 0.1, i);
        }

        big.AnomalyProbability(0, 0.1, 300);
        Assert.Equal(0.5, big.DistributionMean);
        Assert.Equal(1e3, big.DistributionStdev);
        Assert.Equal(10, l.ProbationaryPeriod);
    }

    [Fact]
    public void Mean_and_variance_floors_apply()
    {
        var l = new NabAnomalyLikelihood(0, 50);
        for (int i = 0; i < 51; i++)
        {
            l.AnomalyProbability(i, 0.0, i);
        }

        Assert.Equal(0.03, l.DistributionMean);
        Assert.Equal(0.0003, l.DistributionVariance);
        Assert.Equal(Math.Sqrt(0.0003), l.DistributionStdev);
    }

    [Fact]
    public void Reestimates_only_when_the_iteration_is_a_multiple_of_the_period()
    {
        var l = new NabAnomalyLikelihood(learningPeriod: 50, estimationSamples: 83);
        var rng = new Random(11);
        double lastMean = double.NaN;
        var changes = new List<int>();
        for (int i = 0; i < 1000; i++)
        {
            l.AnomalyProbability(rng.NextDouble() * 10, rng.NextDouble() * rng.NextDouble(), i);
            if (l.HasDistribution && !l.DistributionMean.Equals(lastMean))
            {
                changes.Add(i);
                lastMean = l.DistributionMean;
            }
        }

        // First fit at the end of probation (133), then at every multiple of 100.
        Assert.Equal(new[] { 133, 200, 300, 400, 500, 600, 700, 800, 900 }, changes);
    }

    [Fact]
    public void A_jump_in_raw_score_is_flagged_and_the_second_red_is_clipped_to_yellow()
    {
        var l = new NabAnomalyLikelihood(learningPeriod: 200, estimationSamples: 200);
        var results = new List<double>();
        int i = 0;
        for (; i < 1000; i++)
        {
            double raw = i % 10 == 0 ? 0.3 : 0.0;
            results.Add(l.AnomalyProbability(5.0 + (i % 24), raw, i));
        }

        Assert.All(results.Skip(400), r => Assert.True(r < 0.99, $"quiet stretch scored {r}"));

        var jump = new List<double>();
        for (int k = 0; k < 20; k++, i++)
        {
            jump.Add(l.AnomalyProbability(5.0 + (i % 24), 1.0, i));
        }

        // The moving average climbs 0.1 per step: the likelihood rises sharply, the first red (1 − L ≤ 1e-5)
        // passes, the next one is clipped to yellow (L = 1 − 1e-3).
        int firstRed = jump.FindIndex(x => 1.0 - x <= NabAnomalyLikelihood.RedThreshold);
        Assert.InRange(firstRed, 0, 8);
        Assert.True(jump[firstRed] > 0.99999);
        Assert.Equal(1.0 - NabAnomalyLikelihood.YellowThreshold, jump[firstRed + 1]);
        Assert.True(jump[firstRed - 1] < jump[firstRed]);
        Assert.True(NabAnomalyLikelihood.LogScore(jump[firstRed]) > 0.5);
    }

    [Fact]
    public void Below_mean_rule_complement_and_mirror()
    {
        double mean = 0.2, stdev = 0.1;
        double above = NabAnomalyLikelihood.TailProbability(0.4, mean, stdev);
        Assert.Equal(0.5 * ErrorFunction.Erfc(2.0 / 1.4142), above);
        Assert.Equal(1.0 - above, NabAnomalyLikelihood.TailProbability(0.0, mean, stdev, BelowMeanTail.Complement));
        Assert.Equal(above, NabAnomalyLikelihood.TailProbability(0.0, mean, stdev, BelowMeanTail.Mirror));
    }

    [Fact]
    public void Save_load_continue_equals_continue()
    {
        var rng = new Random(5);
        var a = new NabAnomalyLikelihood(60, 70, historicWindowSize: 300);
        var steps = new (double V, double R)[2000];
        for (int i = 0; i < steps.Length; i++)
        {
            steps[i] = (rng.NextDouble() * 100, rng.Next(41) / 40.0);
        }

        for (int i = 0; i < 777; i++)
        {
            a.AnomalyProbability(steps[i].V, steps[i].R, i);
        }

        var w = new CheckpointWriter(kind: 1, version: 1);
        a.Save(w);
        byte[] bytes = w.Complete();
        var r = new CheckpointReader(bytes, 1, 1);
        NabAnomalyLikelihood b = NabAnomalyLikelihood.Load(ref r);
        Assert.True(r.AtEnd);
        for (int i = 777; i < steps.Length; i++)
        {
            double x = a.AnomalyProbability(steps[i].V, steps[i].R, i);
            double y = b.AnomalyProbability(steps[i].V, steps[i].R, i);
            Assert.Equal(BitConverter.DoubleToInt64Bits(x), BitConverter.DoubleToInt64Bits(y));
        }
    }

    [Fact]
    public void No_allocation_per_step_after_warm_up()
    {
        var l = new NabAnomalyLikelihood(375, 375);
        for (int i = 0; i < 20000; i++)
        {
            l.AnomalyProbability(i % 17, i % 13 == 0 ? 0.5 : 0.025, i);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 20000; i < 40000; i++)
        {
            l.AnomalyProbability(i % 17, i % 13 == 0 ? 0.5 : 0.025, i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Rejects_bad_parameters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NabAnomalyLikelihood(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NabAnomalyLikelihood(10, 200, historicWindowSize: 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NabAnomalyLikelihood(10, 10, reestimationPeriod: 0));
    }
}

public class SpatialAnomalyDetectorTests
{
    [Fact]
    public void Follows_nab_order_test_then_widen()
    {
        var d = new SpatialAnomalyDetector();
        Assert.False(d.Update(10));   // range unset
        Assert.False(d.Update(10));   // min == max: no test
        Assert.False(d.Update(20));   // still min == max before widening
        Assert.False(d.Update(20.5)); // tol 0.5: 20.5 is not > 20.5
        Assert.True(d.Update(21.1));  // range now [10, 20.5], tol 0.525: 21.1 > 21.025
        Assert.True(d.Update(9.4));   // range [10, 21.1], tol 0.555: 9.4 < 9.445
        Assert.False(d.Update(15));
        Assert.Equal(9.4, d.MinSeen);
        Assert.Equal(21.1, d.MaxSeen);
    }

    [Fact]
    public void Save_load_round_trip()
    {
        var d = new SpatialAnomalyDetector();
        d.Update(1);
        d.Update(3);
        var w = new CheckpointWriter(2, 1);
        d.Save(w);
        var r = new CheckpointReader(w.Complete(), 2, 1);
        SpatialAnomalyDetector e = SpatialAnomalyDetector.Load(ref r);
        Assert.Equal(d.Update(3.2), e.Update(3.2));
        Assert.Equal(d.Update(3.25), e.Update(3.25));
        Assert.Equal(d.MaxSeen, e.MaxSeen);
    }
}

public class RawAnomalyTests
{
    [Theory]
    [InlineData(40, 40, 0.0)]
    [InlineData(40, 0, 1.0)]
    [InlineData(40, 30, 0.25)]
    [InlineData(0, 0, 0.0)]
    public void Computes_the_unpredicted_fraction(int active, int predicted, double expected)
    {
        Assert.Equal(expected, RawAnomaly.Compute(active, predicted));
    }

    [Fact]
    public void Region_output_is_float32()
    {
        Assert.Equal((double)0.025f, RawAnomaly.ComputeAsRegionOutput(40, 39));
        Assert.NotEqual(0.025, RawAnomaly.ComputeAsRegionOutput(40, 39));
    }
}

public class ErrorFunctionTests
{
    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(1.0, 0.15729920705028513)]
    [InlineData(3.0, 2.209049699858544e-05)]
    [InlineData(5.0, 1.5374597944280349e-12)]
    [InlineData(-0.5, 1.5204998778130465)]
    [InlineData(-1.0, 1.842700792949715)]
    [InlineData(-3.0, 1.9999779095030015)]
    public void Known_values(double x, double expected)
    {
        // CPython 2.7's series/continued fraction is good to a few 1e-15 relative (12 ulps at x = 3).
        double actual = ErrorFunction.Erfc(x);
        Assert.True(Math.Abs(actual - expected) <= 4e-15 * expected, $"erfc({x}) = {actual:R}, expected {expected:R}");
    }

    // glibc's erfc, printed with 17 digits (gcc, Debian 12). Ours is CPython 2.7's algorithm: a few ulps apart.
    [Theory]
    [InlineData(0.1, 0.88753708398171516)]
    [InlineData(0.7, 0.32219880616258156)]
    [InlineData(1.2, 0.089686021770364652)]
    [InlineData(1.49, 0.035102135156795791)]
    [InlineData(1.5, 0.033894853524689274)]
    [InlineData(1.51, 0.032723251871288363)]
    [InlineData(2.0, 0.0046777349810472654)]
    [InlineData(2.5, 0.00040695201744495892)]
    [InlineData(4.0, 1.541725790028002e-08)]
    [InlineData(6.0, 2.1519736712498916e-17)]
    [InlineData(10.0, 2.0884875837625449e-45)]
    [InlineData(1e-10, 0.99999999988716204)]
    public void Within_a_few_ulps_of_the_c_library(double x, double glibc)
    {
        long ulps = Math.Abs(BitConverter.DoubleToInt64Bits(ErrorFunction.Erfc(x)) - BitConverter.DoubleToInt64Bits(glibc));
        Assert.True(ulps <= 16, $"erfc({x}) is {ulps} ulps from glibc");
    }

    [Fact]
    public void Symmetry_and_limits()
    {
        for (double x = 0; x < 6; x += 0.37)
        {
            Assert.Equal(2.0 - ErrorFunction.Erfc(x), ErrorFunction.Erfc(-x), 15);
            Assert.Equal(1.0 - ErrorFunction.Erfc(x), ErrorFunction.Erf(x), 15);
        }

        Assert.Equal(0.0, ErrorFunction.Erfc(30));
        Assert.Equal(2.0, ErrorFunction.Erfc(-40));
        Assert.True(double.IsNaN(ErrorFunction.Erfc(double.NaN)));
    }
}

public class NumpyReductionsTests
{
    [Fact]
    public void Short_arrays_sum_left_to_right()
    {
        double[] a = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
        double expected = 0.0;
        foreach (double v in a)
        {
            expected += v;
        }

        Assert.Equal(expected, NumpyReductions.Sum(a));
    }

    [Fact]
    public void Blocks_use_eight_accumulators_then_the_tail()
    {
        double[] a = new double[19];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = 1.0 / (i + 3);
        }

        double[] r = new double[8];
        Array.Copy(a, r, 8);
        for (int j = 0; j < 8; j++)
        {
            r[j] += a[8 + j];
        }

        double expected = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        expected += a[16];
        expected += a[17];
        expected += a[18];
        Assert.Equal(expected, NumpyReductions.Sum(a));
    }

    [Fact]
    public void Long_arrays_split_on_multiples_of_eight()
    {
        var rng = new Random(1);
        double[] a = new double[1000];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = rng.NextDouble();
        }

        // n = 1000 → halves of 496 and 504; each ≤ … recursion continues until ≤ 128.
        double left = NumpyReductions.Sum(a.AsSpan(0, 496));
        double right = NumpyReductions.Sum(a.AsSpan(496));
        Assert.Equal(left + right, NumpyReductions.Sum(a));
    }

    [Fact]
    public void Mean_and_population_variance()
    {
        double[] a = [1, 2, 3, 4];
        Assert.Equal(2.5, NumpyReductions.Mean(a));
        Assert.Equal(1.25, NumpyReductions.PopulationVariance(a));
        Assert.Equal(0.0, NumpyReductions.PopulationVariance([7.0, 7.0, 7.0]));
    }
}
