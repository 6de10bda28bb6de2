using HtmEngine.Server.Configuration;

namespace HtmEngine.Tests.Unit.Configuration;

public class IniParserTests
{
    [Fact]
    public void Parses_sections_both_separators_comments_and_lower_cases_keys()
    {
        var doc = IniParser.Parse("# top\n[one]\nKey = a b\nother: c ; note\nsemi = x;y\n; comment\n[two]\nempty =\n", "t.conf");
        var one = doc.Find("one")!;
        Assert.Equal(2, one.Line);
        Assert.Equal("a b", one.Entries["key"].Value);
        Assert.Equal("c", one.Entries["other"].Value);
        Assert.Equal("x;y", one.Entries["semi"].Value);
        Assert.Equal(4, one.Entries["other"].Line);
        Assert.Equal(string.Empty, doc.Find("two")!.Entries["empty"].Value);
    }

    [Fact]
    public void Repeated_key_keeps_the_last_value()
    {
        var doc = IniParser.Parse("[s]\nk = 1\nk = 2\n", "t.conf");
        Assert.Equal(("2", 3), (doc.Find("s")!.Entries["k"].Value, doc.Find("s")!.Entries["k"].Line));
    }

    [Fact]
    public void Option_before_a_section_is_an_error_with_its_line()
    {
        var e = Assert.Throws<ConfigurationException>(() => IniParser.Parse("\nk = 1\n", "t.conf"));
        Assert.StartsWith("t.conf:2:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Indented_continuation_line_is_an_error_with_its_line()
    {
        var e = Assert.Throws<ConfigurationException>(() => IniParser.Parse("[s]\nk = 1\n  more\n", "t.conf"));
        Assert.StartsWith("t.conf:3: [s]: indented line", e.Message, StringComparison.Ordinal);
    }
}
