using HtmEngine.Server.Configuration;

namespace HtmEngine.Tests.Unit.Configuration;

public class ConfigLoaderErrorTests
{
    private static readonly Dictionary<string, string> s_environment = new() { ["HOME"] = "/home/tester" };

    private static string LoadError(TempConfig config, IReadOnlyDictionary<string, string>? environment = null)
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigLoader.Load(config.Directory, environment ?? s_environment));
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        return e.Message;
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        using var config = TempConfig.CopyOf();
        File.Delete(config.PathOf("model-swapper"));
        var message = LoadError(config);
        Assert.StartsWith(config.PathOf("model-swapper") + ":", message, StringComparison.Ordinal);
        Assert.Contains("file not found", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_section_names_file_line_and_section()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Append("application", "[bogus]", "x = 1");
        var message = LoadError(config);
        Assert.StartsWith($"{config.PathOf("application")}:{line}: [bogus]:", message, StringComparison.Ordinal);
        Assert.Contains("unknown section", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_key_names_file_line_section_and_key()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("application", "user = root", "colour = red");
        var message = LoadError(config);
        Assert.StartsWith($"{config.PathOf("application")}:{line}: [repository] colour:", message, StringComparison.Ordinal);
        Assert.Contains("unknown key; expected one of db, host, user", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_number_names_key_and_expected_range()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("application", "chunk_size", "chunk_size = lots");
        var message = LoadError(config);
        Assert.Equal($"{config.PathOf("application")}:{line}: [metric_streamer] chunk_size: expected a whole number from 1 to 2147483647, got 'lots'", message);
    }

    [Theory]
    [InlineData("max_messages", "0", "1 to 32767")]
    [InlineData("max_messages", "40000", "1 to 32767")]
    [InlineData("max_bytes", "8MiB", "1 to 2147483647")]
    public void Bad_batch_limit_names_file_line_section_and_key(string key, string written, string range)
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("application", key + " =", $"{key} = {written}");
        var message = LoadError(config);
        Assert.Equal($"{config.PathOf("application")}:{line}: [batch_consume] {key}: expected a whole number from {range}, got '{written}'", message);
    }

    [Fact]
    public void Negative_retry_budget_names_file_line_section_and_key()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("application", "retry_budget_seconds", "retry_budget_seconds = -5");
        var message = LoadError(config);
        Assert.Equal($"{config.PathOf("application")}:{line}: [repository] retry_budget_seconds: expected a whole number from 0 to 86400, got '-5'", message);
    }

    [Fact]
    public void Number_below_its_minimum_is_rejected()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("model-swapper", "target_requests_per_checkpoint", "target_requests_per_checkpoint = 0");
        var message = LoadError(config);
        Assert.StartsWith($"{config.PathOf("model-swapper")}:{line}: [model_runner] target_requests_per_checkpoint: expected a whole number from 1", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Relative_checkpoint_root_is_a_bad_path()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("model-checkpoint", "root =", "root = checkpoints/here");
        var message = LoadError(config);
        Assert.Equal($"{config.PathOf("model-checkpoint")}:{line}: [storage] root: expected an absolute path (after expanding variables), got 'checkpoints/here'", message);
    }

    [Fact]
    public void Unset_variable_in_a_path_is_a_bad_path_naming_the_variable()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("model-checkpoint", "root =", "root = ${NO_SUCH_VARIABLE}/cp");
        var message = LoadError(config);
        Assert.StartsWith($"{config.PathOf("model-checkpoint")}:{line}: [storage] root: expected a path: environment variable 'NO_SUCH_VARIABLE' is not set", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_boolean_names_key()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("model-swapper", "profiling", "profiling = maybe");
        var message = LoadError(config);
        Assert.Equal($"{config.PathOf("model-swapper")}:{line}: [debugging] profiling: expected true or false, got 'maybe'", message);
    }

    [Theory]
    [InlineData("70000")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("20x3")]
    public void Bad_port_names_key(string port)
    {
        using var config = TempConfig.CopyOf();
        int line = config.Replace("application", "plaintext_port", "plaintext_port = " + port);
        var message = LoadError(config);
        Assert.Equal($"{config.PathOf("application")}:{line}: [metric_listener] plaintext_port: expected a TCP port from 1 to 65535, got '{port}'", message);
    }

    [Fact]
    public void Bad_endpoint_and_bad_address_are_rejected()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "listen", "listen = localhost");
        Assert.Contains("[web] listen: expected address:port", LoadError(config), StringComparison.Ordinal);
        config.Replace("application", "listen", "listen = 127.0.0.1:8080");
        config.Replace("application", "bind_address", "bind_address = everywhere");
        Assert.Contains("[metric_listener] bind_address: expected an IP address", LoadError(config), StringComparison.Ordinal);
    }

    [Fact]
    public void Unparseable_line_names_file_and_line()
    {
        using var config = TempConfig.CopyOf();
        int line = config.Append("rabbitmq", "this is not an option");
        Assert.StartsWith($"{config.PathOf("rabbitmq")}:{line}: [management]: cannot parse", LoadError(config), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_value_from_an_environment_override_names_the_variable()
    {
        using var config = TempConfig.CopyOf();
        var environment = new Dictionary<string, string>(s_environment) { ["_NTA_UTILS_CONFIG__RABBITMQ__CONNECTION__PORT"] = "amqp" };
        var message = LoadError(config, environment);
        Assert.Equal($"{config.PathOf("rabbitmq")}: [connection] port: expected a TCP port from 1 to 65535, got 'amqp' (from environment variable _NTA_UTILS_CONFIG__RABBITMQ__CONNECTION__PORT)", message);
    }

    [Fact]
    public void Override_of_an_unknown_option_of_our_files_is_an_error()
    {
        using var config = TempConfig.CopyOf();
        var environment = new Dictionary<string, string>(s_environment) { ["_NTA_UTILS_CONFIG__MODEL_SWAPPER__INTERFACE_BUS__RESULT_QUEUE"] = "x" };
        var message = LoadError(config, environment);
        Assert.Contains("[interface_bus] result_queue: unknown option in environment variable _NTA_UTILS_CONFIG__MODEL_SWAPPER__INTERFACE_BUS__RESULT_QUEUE", message, StringComparison.Ordinal);
    }
}
