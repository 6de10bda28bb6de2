using HtmEngine.Server;

namespace HtmEngine.Tests.Unit;

public class CommandLineTests
{
    [Fact]
    public void Unknown_command_is_a_usage_error_that_names_it()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(["frobnicate"], stdout, stderr);
        Assert.Equal(2, code);
        Assert.Contains("frobnicate", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_commands_and_succeeds()
    {
        var stdout = new StringWriter();
        int code = CommandLine.Run(["--help"], stdout, new StringWriter());
        Assert.Equal(0, code);
        Assert.Contains("Usage: htmengine", stdout.ToString(), StringComparison.Ordinal);
    }
}
