using HtmEngine.Server.Configuration;

namespace HtmEngine.Tests.Unit.Configuration;

public class ConfigLocatorTests
{
    private static string? NoEnvironment(string name) => null;

    [Fact]
    public void Explicit_directory_wins_over_the_environment()
    {
        using var a = TempConfig.CopyOf();
        using var b = TempConfig.CopyOf();
        var found = ConfigLocator.Locate(a.Directory, n => n == ConfigLocator.EnvironmentVariable ? b.Directory : null, "/nonexistent", "/nonexistent");
        Assert.Equal(a.Directory, found);
    }

    [Fact]
    public void Environment_variable_wins_over_the_executable_location()
    {
        using var a = TempConfig.CopyOf();
        using var exe = TempConfig.CopyOf();
        var found = ConfigLocator.Locate(null, n => n == ConfigLocator.EnvironmentVariable ? a.Directory : null, exe.Root, "/nonexistent");
        Assert.Equal(a.Directory, found);
    }

    [Fact]
    public void Conf_in_a_parent_of_the_executable_is_found()
    {
        using var app = TempConfig.CopyOf();
        var bin = Directory.CreateDirectory(Path.Combine(app.Root, "src", "bin", "Release")).FullName;
        Assert.Equal(app.Directory, ConfigLocator.Locate(null, NoEnvironment, bin, "/nonexistent"));
    }

    [Fact]
    public void Current_directory_conf_is_the_last_resort()
    {
        using var app = TempConfig.CopyOf();
        var exe = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "htmengine-noconf-" + Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            Assert.Equal(app.Directory, ConfigLocator.Locate(null, NoEnvironment, exe, app.Root));
        }
        finally
        {
            Directory.Delete(exe);
        }
    }

    [Fact]
    public void Missing_explicit_directory_is_a_one_line_error_naming_it()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigLocator.Locate("/no/such/conf", NoEnvironment, "/", "/"));
        Assert.StartsWith("/no/such/conf: directory not found (from --config)", e.Message, StringComparison.Ordinal);
    }
}
