using HtmEngine.Server;
using HtmEngine.Server.Commands;
using HtmEngine.Tests.Unit.Configuration;

namespace HtmEngine.Tests.Unit.Cli;

public class CommandRegistryTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Help_lists_every_registered_command_with_its_summary()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var command in CommandRegistry.All)
        {
            Assert.Contains($"  {command.Name}", output, StringComparison.Ordinal);
            Assert.Contains(command.Summary, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Command_names_are_unique()
    {
        Assert.Equal(CommandRegistry.All.Count, CommandRegistry.All.Select(c => c.Name).Distinct().Count());
    }

    [Fact]
    public void Each_command_help_is_its_own_usage_and_succeeds()
    {
        foreach (var command in CommandRegistry.All)
        {
            var (code, output, _) = Run(command.Name, "--help");
            Assert.Equal(0, code);
            Assert.StartsWith($"Usage: htmengine {command.Name}", output, StringComparison.Ordinal);
            Assert.Equal(output, Run("help", command.Name).Out);
        }
    }

    [Fact]
    public void No_arguments_is_a_usage_error_that_shows_the_commands()
    {
        var (code, _, err) = Run();
        Assert.Equal(2, code);
        Assert.Contains("serve", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("serve", "--bogus")]
    [InlineData("config", "check", "--verbose")]
    public void Unknown_option_is_a_usage_error_naming_it(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains($"unknown option '{args[^1]}'", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_top_level_option_is_named()
    {
        var (code, _, err) = Run("--frob");
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--frob'", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Option_without_its_value_is_a_usage_error()
    {
        var (code, _, err) = Run("serve", "--config");
        Assert.Equal(2, code);
        Assert.Contains("'--config' needs a value", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_check_prints_effective_values_with_passwords_masked()
    {
        var (code, output, err) = Run("config", "check", "--config", TempConfig.TestConf);
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, err);
        Assert.Contains("application.conf [repository] host = 127.0.0.1", output, StringComparison.Ordinal);
        Assert.Contains("application.conf [repository] passwd = ********", output, StringComparison.Ordinal);
        Assert.DoesNotContain("htmengine_test_pw", output, StringComparison.Ordinal);
        Assert.Contains("repository: MySQL", output, StringComparison.Ordinal);
        Assert.Contains("bus: RabbitMQ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_check_of_a_bad_file_fails_with_one_line()
    {
        using var config = TempConfig.CopyOf();
        config.Replace("application", "chunk_size", "chunk_size = x");
        var (code, output, err) = Run("config", "check", "--config", config.Directory);
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains("[metric_streamer] chunk_size", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_without_check_is_a_usage_error()
    {
        Assert.Equal(2, Run("config").Code);
        var (code, _, err) = Run("config", "lint");
        Assert.Equal(2, code);
        Assert.Contains("unknown subcommand 'lint'", err, StringComparison.Ordinal);
    }
}
