using HtmEngine.Runtime.Anomaly;
using HtmEngine.Runtime.Models;
using HtmEngine.Runtime.Storer;
using HtmEngine.Server.Configuration;
using HtmEngine.Server.Hosting;
using HtmEngine.Storage;

namespace HtmEngine.Tests.Unit.Configuration;

public class ConfigLoaderTests
{
    private static readonly Dictionary<string, string> s_environment = new() { ["HOME"] = "/home/tester" };

    [Fact]
    public void Shipped_conf_loads_clean_and_means_the_embedded_default()
    {
        var options = ConfigLoader.Load(TempConfig.ShippedConf, s_environment);
        Assert.True(options.UsesEmbeddedStorage);
        Assert.True(options.UsesInProcessBus);
        Assert.Equal(Path.Combine(TempConfig.RepositoryRoot, "var", "htmengine.db"), options.Repository.SqlitePath);
        Assert.Equal("/home/tester/htmengine_model_checkpoints", options.CheckpointRoot);
        Assert.Equal(2003, options.MetricListener.PlaintextPort);
        Assert.Equal("127.0.0.1", options.MetricListener.BindAddress);
        Assert.Equal(new ListenEndpoint("127.0.0.1", 8080), options.Web.Listen);
        Assert.Equal(string.Empty, options.Web.Token);
        Assert.Equal("htmengine.metric.custom.data", options.MetricListener.QueueName);
        Assert.Equal("htmengine.mswapper.model.input.", options.ModelSwapper.ModelInputQueuePrefix);
        Assert.Equal(new AnomalyLikelihoodOptions(100, 24, 8640), options.AnomalyLikelihood);
    }

    [Fact]
    public void Test_conf_names_the_real_servers()
    {
        var options = ConfigLoader.Load(TempConfig.TestConf, s_environment);
        Assert.False(options.UsesEmbeddedStorage);
        Assert.False(options.UsesInProcessBus);
        Assert.Equal(("127.0.0.1", 3306, "htmengine_test"), (options.Repository.Host, options.Repository.Port, options.Repository.Database));
        Assert.Equal(("127.0.0.1", 5672, "guest"), (options.Bus.Host, options.Bus.Port, options.Bus.User));
    }

    [Fact]
    public void Every_schema_key_is_documented_in_the_shipped_and_test_files()
    {
        foreach (var directory in new[] { TempConfig.ShippedConf, TempConfig.TestConf })
        {
            var values = ConfigLoader.LoadValues(directory, s_environment);
            var defaulted = values.All.Where(v => v.Source == "default").Select(v => $"{v.Key.File} [{v.Key.Section}] {v.Key.Key}");
            Assert.Empty(defaulted);
        }
    }

    [Theory]
    [InlineData("${HOME}/cp")]
    [InlineData("$HOME/cp")]
    [InlineData("~/cp")]
    public void Checkpoint_root_expands_variables_to_an_absolute_path(string written)
    {
        using var config = TempConfig.CopyOf();
        config.Replace("model-checkpoint", "root =", "root = " + written);
        Assert.Equal("/home/tester/cp", ConfigLoader.Load(config.Directory, s_environment).CheckpointRoot);
    }

    [Fact]
    public void Environment_override_replaces_an_existing_option()
    {
        var environment = new Dictionary<string, string>(s_environment)
        {
            ["_NTA_UTILS_CONFIG__APPLICATION__REPOSITORY__HOST"] = "db.example",
            ["_NTA_UTILS_CONFIG__MODEL_SWAPPER__INTERFACE_BUS__RESULTS_QUEUE"] = "isolated.results",
            ["_NTA_UTILS_CONFIG__MODEL_CHECKPOINT__STORAGE__ROOT"] = "${HOME}/elsewhere",
            // Files we do not load (nta.utils' logging) are not ours to judge.
            ["_NTA_UTILS_CONFIG__LOGGING__LOGGERS__KEYS"] = "root",
        };
        var values = ConfigLoader.LoadValues(TempConfig.ShippedConf, environment);
        var options = EngineOptions.Bind(values);
        Assert.Equal("db.example", options.Repository.Host);
        Assert.False(options.UsesEmbeddedStorage);
        Assert.Equal("isolated.results", options.ModelSwapper.ResultsQueue);
        Assert.Equal("/home/tester/elsewhere", options.CheckpointRoot);
        Assert.Equal("_NTA_UTILS_CONFIG__APPLICATION__REPOSITORY__HOST", values.Get("application", "repository", "host").Source);
    }

    [Fact]
    public void Overrides_directory_overlays_a_file()
    {
        using var config = TempConfig.CopyOf();
        Directory.CreateDirectory(Path.Combine(config.Directory, "overrides"));
        File.WriteAllText(Path.Combine(config.Directory, "overrides", "rabbitmq.conf"), "[connection]\nhost = broker.local\n");
        var options = ConfigLoader.Load(config.Directory, s_environment);
        Assert.Equal("broker.local", options.Bus.Host);
        Assert.Equal(5672, options.Bus.Port);
    }

    [Fact]
    public void Missing_keys_take_their_defaults_and_empty_numbers_mean_default()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "chunk_size", "# chunk_size removed");
        config.Replace("application", "port = 3306", "port =");
        var options = ConfigLoader.Load(config.Directory, s_environment);
        Assert.Equal(1440, options.MetricStreamer.ChunkSize);
        Assert.Equal(3306, options.Repository.Port);
    }

    [Fact]
    public void Relative_sqlite_path_is_taken_from_the_application_root()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "sqlite_path", "sqlite_path = data/engine.db");
        Assert.Equal(Path.Combine(config.Root, "data", "engine.db"), ConfigLoader.Load(config.Directory, s_environment).Repository.SqlitePath);
    }

    [Fact]
    public void Booleans_accept_the_ConfigParser_spellings()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "profiling", "profiling = Yes");
        Assert.True(ConfigLoader.Load(config.Directory, s_environment).Profiling);
    }

    [Fact]
    public void Batch_limits_and_retry_budget_left_out_mean_the_services_own_defaults()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "retry_budget_seconds", "# retry_budget_seconds removed");
        config.Replace("application", "max_messages", "max_messages =");
        config.Replace("application", "max_bytes", "# max_bytes removed");
        var engine = ConfigLoader.Load(config.Directory, s_environment);
        Assert.Equal(new BatchConsumeOptions(64, 8 * 1024 * 1024), engine.BatchConsume);
        Assert.Equal(30, engine.Repository.RetryBudgetSeconds);

        // The schema's defaults are the option records' own, so leaving the keys out changes nothing.
        Assert.Equal(new StorageOptions("", 0, "", "", "", "").RetryBudget, EngineComposition.Runtime(engine).Storage.RetryBudget);
        var storer = new MetricStorerOptions("q", "p.", 1);
        Assert.Equal((storer.BatchMessages, storer.BatchBytes), (EngineComposition.Storer(engine).BatchMessages, EngineComposition.Storer(engine).BatchBytes));
        var models = new ModelRunnerOptions("p.", "r", 1, 1 << 30, "/tmp");
        Assert.Equal((models.BatchMessages, models.BatchBytes), (EngineComposition.Models(engine).BatchMessages, EngineComposition.Models(engine).BatchBytes));
        var anomaly = new AnomalyServiceOptions("r", "x", EngineComposition.Likelihood(engine));
        Assert.Equal((anomaly.BatchMessages, anomaly.BatchBytes), (EngineComposition.Anomaly(engine).BatchMessages, EngineComposition.Anomaly(engine).BatchBytes));
    }

    [Fact]
    public void Batch_limits_and_retry_budget_reach_every_service()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "retry_budget_seconds", "retry_budget_seconds = 0");
        config.Replace("application", "max_messages", "max_messages = 1");
        config.Replace("application", "max_bytes", "max_bytes = 65536");
        var engine = ConfigLoader.Load(config.Directory, s_environment);
        Assert.Equal(TimeSpan.Zero, EngineComposition.Runtime(engine).Storage.RetryBudget);
        Assert.Equal((1, 65536), (EngineComposition.Storer(engine).BatchMessages, EngineComposition.Storer(engine).BatchBytes));
        Assert.Equal((1, 65536), (EngineComposition.Models(engine).BatchMessages, EngineComposition.Models(engine).BatchBytes));
        Assert.Equal((1, 65536), (EngineComposition.Anomaly(engine).BatchMessages, EngineComposition.Anomaly(engine).BatchBytes));
        EngineComposition.Storer(engine).Validate();
        EngineComposition.Models(engine).Validate();
    }

    [Fact]
    public void Batch_limits_take_an_environment_override()
    {
        var environment = new Dictionary<string, string>(s_environment)
        {
            ["_NTA_UTILS_CONFIG__APPLICATION__BATCH_CONSUME__MAX_MESSAGES"] = "256",
            ["_NTA_UTILS_CONFIG__APPLICATION__REPOSITORY__RETRY_BUDGET_SECONDS"] = "120",
        };
        var engine = ConfigLoader.Load(TempConfig.ShippedConf, environment);
        Assert.Equal(256, EngineComposition.Models(engine).BatchMessages);
        Assert.Equal(TimeSpan.FromSeconds(120), EngineComposition.Runtime(engine).Storage.RetryBudget);
    }
}
