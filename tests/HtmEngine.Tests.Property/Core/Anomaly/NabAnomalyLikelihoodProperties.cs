using FsCheck;
using FsCheck.Xunit;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Tests.Property.Core.Anomaly;

public class NabAnomalyLikelihoodProperties
{
    private static (double Value, double Raw)[] Stream(int seed, int length)
    {
        var rng = new Random(seed);
        var steps = new (double, double)[length];
        double level = rng.NextDouble() * 100;
        bool flat = rng.Next(8) == 0;
        for (int i = 0; i < length; i++)
        {
            if (!flat)
            {
                level += (rng.NextDouble() - 0.5) * rng.Next(1, 5);
            }

            // Raw scores as the model makes them: k/40 as float32, with bursts of 1.0.
            double raw = rng.Next(20) == 0 ? 1.0 : (float)(rng.Next(0, 12) / 40.0);
            steps[i] = (level, raw);
        }

        return steps;
    }

    [Property(MaxTest = 60)]
    public bool Save_load_continue_equals_continue(int seed, PositiveInt probation, PositiveInt split)
    {
        int p = 1 + (probation.Get % 400);
        int window = 50 + (seed & 0x3FF);
        (int learning, int estimation) = NabAnomalyLikelihood.ForProbation(p);
        if (estimation > window)
        {
            window = estimation;
        }

        var steps = Stream(seed, 1500);
        int cut = split.Get % steps.Length;
        var a = new NabAnomalyLikelihood(learning, estimation, window, reestimationPeriod: 1 + (seed & 0x7F));
        for (int i = 0; i < cut; i++)
        {
            a.AnomalyProbability(steps[i].Value, steps[i].Raw, i);
        }

        var writer = new CheckpointWriter(kind: 90, version: 1);
        a.Save(writer);
        var reader = new CheckpointReader(writer.Complete(), 90, 1);
        NabAnomalyLikelihood b = NabAnomalyLikelihood.Load(ref reader);
        if (!reader.AtEnd)
        {
            return false;
        }

        for (int i = cut; i < steps.Length; i++)
        {
            double x = a.AnomalyProbability(steps[i].Value, steps[i].Raw, i);
            double y = b.AnomalyProbability(steps[i].Value, steps[i].Raw, i);
            if (BitConverter.DoubleToInt64Bits(x) != BitConverter.DoubleToInt64Bits(y))
            {
                return false;
            }
        }

        return true;
    }

    [Property(MaxTest = 60)]
    public bool Likelihood_is_a_probability_and_probation_is_one_half(int seed, PositiveInt probation)
    {
        int p = 1 + (probation.Get % 300);
        (int learning, int estimation) = NabAnomalyLikelihood.ForProbation(p);
        var l = new NabAnomalyLikelihood(learning, estimation, historicWindowSize: Math.Max(estimation, 500));
        var steps = Stream(seed, 1200);
        for (int i = 0; i < steps.Length; i++)
        {
            double x = l.AnomalyProbability(steps[i].Value, steps[i].Raw, i);
            if (i < p ? x != 0.5 : !(x >= 0.0 && x <= 1.0))
            {
                return false;
            }

            // L ≥ 0 gives ln(1.0000000001 − L) ≤ ln(1.0000000001): the log score can dip to −4.3e-12.
            double log = NabAnomalyLikelihood.LogScore(x);
            if (!(log >= -4.4e-12 && log <= 1.0))
            {
                return false;
            }
        }

        return true;
    }
}
