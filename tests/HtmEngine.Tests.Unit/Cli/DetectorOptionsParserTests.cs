using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;
using HtmEngine.Server.Commands;

namespace HtmEngine.Tests.Unit.Cli;

public class DetectorOptionsParserTests
{
    private static ParsedOptions Parse(params string[] args) =>
        OptionParser.Parse("nab", args, DetectorOptionsParser.ValueOptions.ToArray(), [DetectorOptionsParser.NuPicFlag], new StringWriter())
        ?? throw new InvalidOperationException("parse failed");

    [Fact]
    public void No_options_give_the_default_detector()
    {
        Assert.True(DetectorOptionsParser.TryParse(Parse(), out NabDetectorOptions options, out string? error), error);
        Assert.Equal(NabDetectorOptions.Default, options);
        Assert.Equal("detector=custom ensemble=1 refractory=10 averaging=10 tail=complement", DetectorOptionsParser.Describe(options));
    }

    [Fact]
    public void The_nupic_flag_gives_nupics_detector()
    {
        Assert.True(DetectorOptionsParser.TryParse(Parse("--nupic"), out NabDetectorOptions options, out _));
        Assert.True(options.IsNuPicCompatible);
        Assert.StartsWith("detector=nupic ensemble=1 refractory=0 averaging=10 tail=complement", DetectorOptionsParser.Describe(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Each_setting_overrides_the_base()
    {
        Assert.True(DetectorOptionsParser.TryParse(
            Parse("--nupic", "--ensemble", "3", "--refractory", "12", "--averaging", "7", "--tail", "mirror", "--seed-offset", "5"), out NabDetectorOptions options, out _));
        Assert.Equal(5, options.SeedOffset);
        Assert.Equal(3, options.EnsembleSize);
        Assert.Equal(12, options.RefractoryRecords);
        Assert.Equal(7, options.AveragingWindow);
        Assert.Equal(BelowMeanTail.Mirror, options.BelowMeanTail);
        Assert.False(options.IsNuPicCompatible);
        Assert.Equal("detector=custom ensemble=3 refractory=12 averaging=7 tail=mirror seed-offset=5", DetectorOptionsParser.Describe(options));
    }

    [Theory]
    [InlineData("--ensemble", "0")]
    [InlineData("--ensemble", "two")]
    [InlineData("--refractory", "-3")]
    [InlineData("--averaging", "0")]
    [InlineData("--tail", "upper")]
    [InlineData("--seed-offset", "-1")]
    public void Bad_values_are_usage_errors_naming_the_option(string option, string value)
    {
        Assert.False(DetectorOptionsParser.TryParse(Parse(option, value), out _, out string? error));
        Assert.Contains(option, error, StringComparison.Ordinal);
    }
}
