using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HtmEngine.Server.Configuration;

namespace HtmEngine.Tests.Property.Configuration;

public class IniRoundTripProperties
{
    private const string NameChars = "abcdefghijklmnopqrstuvwxyz0123456789_.-";

    // Values may hold anything ConfigParser keeps verbatim: separators, '#', '$', and ';' when no
    // blank precedes it. Blanks inside are fine; leading/trailing blanks are trimmed by design.
    private const string ValueChars = "abcXYZ019 _.-/=:#$;%{}[]";

    private static Gen<string> Word(string alphabet, int min, int max) =>
        from length in Gen.Choose(min, max)
        from chars in Gen.ArrayOf(Gen.Elements(alphabet.ToCharArray()), length)
        select new string(chars);

    private static readonly Gen<string> s_value =
        Word(ValueChars, 0, 24).Select(v => v.Trim()).Where(v => !v.Contains(" ;", StringComparison.Ordinal));

    private static readonly Gen<Dictionary<string, Dictionary<string, string>>> s_document =
        from sectionNames in Gen.ListOf(Word(NameChars, 1, 12), 0).Select(l => l.Distinct().ToList())
        from sections in Gen.CollectToList(sectionNames, name =>
            from keys in Gen.ListOf(Word(NameChars, 1, 12)).Select(l => l.Distinct().ToList())
            from values in Gen.ArrayOf(s_value, keys.Count)
            select (name, entries: keys.Zip(values).ToDictionary(kv => kv.First, kv => kv.Second)))
        select sections.ToDictionary(s => s.name, s => s.entries);

    [Property(MaxTest = 300)]
    public FsCheck.Property Written_ini_parses_back_to_the_same_sections_keys_and_values() =>
        Prop.ForAll(s_document.ToArbitrary(), document =>
        {
            var text = new StringBuilder("# generated\n");
            foreach (var (section, entries) in document)
            {
                text.Append(CultureInfo.InvariantCulture, $"[{section}]\n; a comment\n");
                foreach (var (key, value) in entries)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{key} = {value}\n");
                }
            }

            var parsed = IniParser.Parse(text.ToString(), "generated.conf");
            return parsed.Sections.Select(s => s.Name).SequenceEqual(document.Keys)
                && parsed.Sections.All(s =>
                    s.Entries.Count == document[s.Name].Count
                    && s.Entries.All(e => document[s.Name].TryGetValue(e.Key, out var v) && v == e.Value.Value));
        });

    [Property(MaxTest = 500)]
    public FsCheck.Property Port_parser_accepts_exactly_1_to_65535() =>
        Prop.ForAll(Gen.Choose(-100_000, 200_000).ToArbitrary(), n =>
            ValueParser.TryParsePort(n.ToString(CultureInfo.InvariantCulture), out int port) == (n is >= 1 and <= 65535)
            && (port == n || port == 0));
}
