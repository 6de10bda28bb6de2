using HtmEngine.Core.Models;

namespace HtmEngine.Tests.Unit.Core.Models;

public class NabDetectorTests
{
    private static readonly DateTime s_start = new(2015, 9, 1, 0, 0, 0);

    private static double Series(int i) => 50 + (30 * Math.Sin(i * 2 * Math.PI / 288)) + ((i * 7919) % 13);

    [Fact]
    public void The_alert_levels_are_nupics_red_and_yellow_likelihoods_on_the_log_scale()
    {
        Assert.Equal(0.5, NabDetectorOptions.RedLogScore, 6);
        Assert.Equal(0.3, NabDetectorOptions.YellowLogScore, 3);
        Assert.True(NabDetectorOptions.YellowLogScore < NabDetectorOptions.RedLogScore);
    }

    [Fact]
    public void Without_a_refractory_period_every_spatial_alert_is_reported()
    {
        NabDetector detector = NabDetector.WithoutModel(10, NabDetectorOptions.NuPic);
        double[] scores = RisingSeries(detector, 30);
        for (int i = 2; i < scores.Length; i++)
        {
            Assert.Equal(1.0, scores[i]);
        }
    }

    [Fact]
    public void A_refractory_period_demotes_alerts_that_follow_a_reported_alert_to_yellow()
    {
        NabDetector detector = NabDetector.WithoutModel(10, NabDetectorOptions.NuPic with { RefractoryRecords = 3 });
        double[] scores = RisingSeries(detector, 30);

        // Every record from index 2 on is a new maximum (a spatial anomaly, score 1.0); reported alerts are 4 apart:
        // the alert, then three records inside its refractory period.
        for (int i = 2; i < scores.Length; i++)
        {
            double expected = (i - 2) % 4 == 0 ? 1.0 : NabDetectorOptions.YellowLogScore;
            Assert.Equal(expected, scores[i]);
        }
    }

    [Fact]
    public void Scores_below_the_alert_level_are_never_changed_by_the_refractory_period()
    {
        var plain = NabDetector.WithoutModel(20, NabDetectorOptions.NuPic);
        var refractory = NabDetector.WithoutModel(20, NabDetectorOptions.NuPic with { RefractoryRecords = 50 });
        for (int i = 0; i < 400; i++)
        {
            // A bounded periodic series (no new extremes after the first period) with a sparse raw spike pattern.
            double value = Series(i % 288);
            double raw = i % 37 == 0 ? 1.0 : 0.05;
            double a = plain.StepRaw(s_start.AddMinutes(5 * i), value, raw).Score;
            double b = refractory.StepRaw(s_start.AddMinutes(5 * i), value, raw).Score;
            if (a < NabDetectorOptions.RedLogScore)
            {
                Assert.Equal(a, b);
            }
            else
            {
                Assert.True(b == a || b == NabDetectorOptions.YellowLogScore, $"record {i}: {b} for {a}");
            }
        }
    }

    [Fact]
    public void Replaying_a_models_raw_scores_gives_the_same_final_scores()
    {
        var live = new NabDetector(ModelParameters.Nab(0, 100), 60, NabDetectorOptions.NuPic with { RefractoryRecords = 10 });
        var replay = NabDetector.WithoutModel(60, NabDetectorOptions.NuPic with { RefractoryRecords = 10 });
        for (int i = 0; i < 200; i++)
        {
            DateTime t = s_start.AddMinutes(5 * i);
            double value = i == 150 ? 500 : Series(i);
            DetectorScore a = live.Step(t, value);
            DetectorScore b = replay.StepRaw(t, value, a.RawScore);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void The_default_is_nupic_with_a_refractory_period_of_one_averaging_window()
    {
        Assert.False(NabDetectorOptions.Default.IsNuPicCompatible);
        Assert.Equal(NabDetectorOptions.Default.AveragingWindow, NabDetectorOptions.Default.RefractoryRecords);
        Assert.Equal(NabDetectorOptions.NuPic, NabDetectorOptions.Default with { RefractoryRecords = 0 });
    }

    [Fact]
    public void The_nupic_options_are_the_two_argument_constructor()
    {
        var plain = new NabDetector(ModelParameters.Nab(0, 100), 40);
        var nupic = new NabDetector(ModelParameters.Nab(0, 100), 40, NabDetectorOptions.NuPic);
        Assert.True(plain.Options.IsNuPicCompatible);
        Assert.False((NabDetectorOptions.NuPic with { RefractoryRecords = 1 }).IsNuPicCompatible);
        for (int i = 0; i < 120; i++)
        {
            Assert.Equal(plain.Step(s_start.AddMinutes(5 * i), Series(i)), nupic.Step(s_start.AddMinutes(5 * i), Series(i)));
        }
    }

    [Fact]
    public void An_ensemble_averages_the_raw_scores_of_reseeded_models()
    {
        ModelParameters parameters = ModelParameters.Nab(0, 100);
        var ensemble = new NabDetector(parameters, 40, NabDetectorOptions.NuPic with { EnsembleSize = 2 });
        var first = new HtmModel(parameters);
        var second = new HtmModel(NabDetector.Reseeded(parameters, 1));
        bool differed = false;
        for (int i = 0; i < 120; i++)
        {
            DateTime t = s_start.AddMinutes(5 * i);
            double a = first.Step(t, Series(i));
            double b = second.Step(t, Series(i));
            differed |= a != b;
            Assert.Equal((double)(float)((a + b) / 2), ensemble.Step(t, Series(i)).RawScore);
        }

        Assert.True(differed, "the reseeded member never scored differently, so it is not a second opinion");
    }

    [Fact]
    public void A_seed_offset_runs_the_reseeded_model()
    {
        ModelParameters parameters = ModelParameters.Nab(0, 100);
        var shifted = new NabDetector(parameters, 40, NabDetectorOptions.NuPic with { SeedOffset = 3 });
        var expected = new HtmModel(NabDetector.Reseeded(parameters, 3));
        var original = new HtmModel(parameters);
        bool differed = false;
        for (int i = 0; i < 120; i++)
        {
            DateTime t = s_start.AddMinutes(5 * i);
            double raw = shifted.Step(t, Series(i)).RawScore;
            Assert.Equal(expected.Step(t, Series(i)), raw);
            differed |= raw != original.Step(t, Series(i));
        }

        Assert.True(differed);
        Assert.Equal(parameters.SpatialPooler.Seed + 3, shifted.Model.Parameters.SpatialPooler.Seed);
    }

    [Fact]
    public void Reseeding_moves_every_seed_by_the_member_index()
    {
        ModelParameters parameters = ModelParameters.Nab(0, 100);
        Assert.Same(parameters, NabDetector.Reseeded(parameters, 0));
        ModelParameters third = NabDetector.Reseeded(parameters, 2);
        Assert.Equal(parameters.EncoderSeed + 2, third.EncoderSeed);
        Assert.Equal(parameters.SpatialPooler.Seed + 2, third.SpatialPooler.Seed);
        Assert.Equal(parameters.Backtracking.Seed + 2, third.Backtracking.Seed);
        Assert.Equal(parameters.Tm.Seed + 2, third.Tm.Seed);
    }

    [Fact]
    public void A_detector_without_a_model_refuses_to_step_a_model()
    {
        NabDetector detector = NabDetector.WithoutModel(10, NabDetectorOptions.Default);
        Assert.Throws<InvalidOperationException>(() => detector.Step(s_start, 1.0));
        Assert.Throws<InvalidOperationException>(() => detector.Model);
    }

    [Theory]
    [InlineData(0, 0, 10)]
    [InlineData(1, -1, 10)]
    [InlineData(1, 0, 0)]
    public void Out_of_range_options_are_rejected(int ensemble, int refractory, int averaging)
    {
        var options = new NabDetectorOptions { EnsembleSize = ensemble, RefractoryRecords = refractory, AveragingWindow = averaging };
        Assert.Throws<ArgumentOutOfRangeException>(() => NabDetector.WithoutModel(10, options));
    }

    [Fact]
    public void The_likelihood_settings_reach_the_likelihood()
    {
        // A wider moving average smooths a single raw spike, so its likelihood after probation is lower.
        var narrow = NabDetector.WithoutModel(100, NabDetectorOptions.NuPic with { AveragingWindow = 2 });
        var wide = NabDetector.WithoutModel(100, NabDetectorOptions.NuPic with { AveragingWindow = 20 });
        double narrowSpike = 0;
        double wideSpike = 0;
        for (int i = 0; i < 160; i++)
        {
            double raw = i == 150 ? 1.0 : (i % 7) * 0.01;
            double value = Series(i % 100);
            double a = narrow.StepRaw(s_start.AddMinutes(5 * i), value, raw).Likelihood;
            double b = wide.StepRaw(s_start.AddMinutes(5 * i), value, raw).Likelihood;
            if (i == 150)
            {
                (narrowSpike, wideSpike) = (a, b);
            }
        }

        Assert.True(narrowSpike > wideSpike, $"narrow {narrowSpike} vs wide {wideSpike}");
    }

    private static double[] RisingSeries(NabDetector detector, int count)
    {
        var scores = new double[count];
        for (int i = 0; i < count; i++)
        {
            scores[i] = detector.StepRaw(s_start.AddMinutes(5 * i), i * i * 10.0, 0.0).Score;
        }

        return scores;
    }
}
