using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Models;

namespace HtmEngine.Tests.Unit.Core.Models;

public class HtmModelTests
{
    private static readonly DateTime s_start = new(2015, 9, 1, 0, 0, 0);

    private static double Series(int i) => 50 + (30 * Math.Sin(i * 2 * Math.PI / 288)) + ((i * 7919) % 13);

    [Fact]
    public void The_first_record_is_fully_anomalous_and_a_learned_cycle_is_not()
    {
        var model = new HtmModel(ModelParameters.Nab(0, 100));
        Assert.Equal(1.0, model.Step(s_start, Series(0)));
        double late = 0;
        for (int i = 1; i < 288 * 8; i++)
        {
            double raw = model.Step(s_start.AddMinutes(5 * i), Series(i % 288));
            if (i >= 288 * 7)
            {
                late += raw;
            }
        }

        Assert.True(late / 288 < 0.2, $"mean raw score on the eighth repetition was {late / 288}");
        Assert.Equal(288 * 8, model.Steps);
    }

    [Fact]
    public void Raw_scores_are_float32_values_as_nupic_reports_them()
    {
        var model = new HtmModel(ModelParameters.Nab(0, 100));
        for (int i = 0; i < 300; i++)
        {
            double raw = model.Step(s_start.AddMinutes(5 * i), Series(i));
            Assert.Equal(raw, (double)(float)raw);
            Assert.InRange(raw, 0, 1);
        }
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Non_finite_values_are_rejected_with_a_clear_error(double value)
    {
        var model = new HtmModel(ModelParameters.Nab(0, 100));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Step(s_start, value));
        Assert.Contains("finite", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, model.Steps);
    }

    [Fact]
    public void A_flat_series_and_an_empty_range_work()
    {
        var model = new HtmModel(ModelParameters.Nab(5, 5));
        Assert.Equal(6, model.Parameters.MaxValue);
        double last = 1;
        for (int i = 0; i < 500; i++)
        {
            last = model.Step(s_start.AddMinutes(5 * i), 5);
        }

        Assert.Equal(0, last);
        (double min, double max) = ModelParameters.PadObservedRange(5, 5);
        Assert.Equal((5.0, 6.0), (min, max));
    }

    [Fact]
    public void Parameter_sets_follow_their_resolution_rules()
    {
        Assert.Equal((130.0 - 0) / 130, ModelParameters.Nab(0, 130).Resolution);
        Assert.Equal(0.001, ModelParameters.Nab(0, 0.01).Resolution);
        Assert.Equal(114.0 / 114, ModelParameters.HtmEngine034(0, 114).Resolution);
        Assert.Equal(0.1f, ModelParameters.HtmEngine034(0, 1).SpatialPooler.SynPermConnected);
        Assert.Equal((-20.0, 120.0), ModelParameters.PadObservedRange(0, 100));
        Assert.Throws<ArgumentException>(() => ModelParameters.Create("nupic-9", 0, 1));
        Assert.Throws<ArgumentException>(() => ModelParameters.Nab(2, 1));
    }

    [Fact]
    public void Save_load_continue_equals_an_uninterrupted_run()
    {
        var uninterrupted = new HtmModel(ModelParameters.Nab(0, 100));
        var interrupted = new HtmModel(ModelParameters.Nab(0, 100));
        var expected = new List<double>();
        var actual = new List<double>();
        for (int i = 0; i < 700; i++)
        {
            expected.Add(uninterrupted.Step(s_start.AddMinutes(5 * i), Series(i)));
            actual.Add(interrupted.Step(s_start.AddMinutes(5 * i), Series(i)));
            if (i is 0 or 99 or 401)
            {
                byte[] bytes = interrupted.Save();
                interrupted = HtmModel.Load(bytes);
                Assert.Equal(bytes, interrupted.Save());
            }
        }

        Assert.Equal(expected, actual);
        Assert.Equal(uninterrupted.Save(), interrupted.Save());
        Assert.Equal(uninterrupted.Parameters, interrupted.Parameters);
    }

    [Fact]
    public void A_corrupted_checkpoint_is_refused()
    {
        var model = new HtmModel(ModelParameters.HtmEngine034(0, 100));
        model.Step(s_start, 3);
        byte[] bytes = model.Save();
        bytes[bytes.Length / 2] ^= 1;
        Assert.Throws<CheckpointFormatException>(() => HtmModel.Load(bytes));
    }

    [Fact]
    public void Steps_allocate_nothing_once_the_cycle_is_learned_and_storage_has_grown()
    {
        var model = new HtmModel(ModelParameters.Nab(0, 100));
        for (int i = 0; i < 288 * 20; i++)
        {
            model.Step(s_start.AddMinutes(5 * i), Series(i % 288));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 288; i++)
        {
            model.Step(s_start.AddMinutes(5 * i), Series(i));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
