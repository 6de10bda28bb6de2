using HtmEngine.Bus;
using HtmEngine.Runtime.Adapter;
using HtmEngine.Runtime.Storer;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Runtime;

public sealed class StorerOptionsTests
{
    [Fact]
    public void Storer_options_out_of_range_are_rejected_by_field()
    {
        var ok = new MetricStorerOptions("data", "prefix.", 2);
        ok.Validate();
        Assert.Contains("DataQueue", Assert.Throws<ArgumentException>(() => (ok with { DataQueue = "" }).Validate()).Message, StringComparison.Ordinal);
        Assert.Equal("ChunkSize", Assert.Throws<ArgumentOutOfRangeException>(() => (ok with { ChunkSize = 0 }).Validate()).ParamName);
        Assert.Equal("ShardCount", Assert.Throws<ArgumentOutOfRangeException>(() => (ok with { ShardCount = -1 }).Validate()).ParamName);
        Assert.Equal("MetricCacheCapacity", Assert.Throws<ArgumentOutOfRangeException>(() => (ok with { MetricCacheCapacity = 0 }).Validate()).ParamName);
    }

    [Fact]
    public void Adapter_options_name_an_unknown_parameter_set_or_temporal_memory()
    {
        var ok = new DatasourceAdapterOptions("prefix.", 0);
        ok.Validate();
        Assert.Contains("'bogus'", Assert.Throws<ArgumentException>(() => (ok with { ParameterSet = "bogus" }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("'cla'", Assert.Throws<ArgumentException>(() => (ok with { TemporalMemory = "cla" }).Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Storer_is_named_storer_and_its_counters_start_at_zero()
    {
        var (repository, _) = Contract.FlakyRepository.Wrap(null!);
        var storer = new MetricStorerService(repository, new InProcessMessageBus(), new MetricStorerOptions("data", "prefix.", 0));
        Assert.Equal("storer", storer.Name);
        Assert.Equal(0, storer.Counters.Messages);
        Assert.Equal(0, storer.Counters.RejectedTotal);
        Assert.Equal("CREATE_PENDING", DatasourceAdapter.StatusName(MetricStatus.CreatePending));
    }
}
