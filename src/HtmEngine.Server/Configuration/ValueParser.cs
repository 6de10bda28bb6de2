using System.Globalization;
using System.Net;
using System.Text;

namespace HtmEngine.Server.Configuration;

/// <summary>An <c>address:port</c> pair from an <see cref="ValueKind.Endpoint"/> option.</summary>
/// <param name="Address">The host part as written (an address literal or a name).</param>
/// <param name="Port">The TCP port.</param>
public sealed record ListenEndpoint(string Address, int Port)
{
    /// <inheritdoc/>
    public override string ToString() => Address.Contains(':', StringComparison.Ordinal) ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}

/// <summary>
/// Checks and converts one raw option value according to its <see cref="ValueKind"/>. Failures are
/// returned as a short "expected ..." text that the loader places into its one-line message.
/// </summary>
public static class ValueParser
{
    /// <summary>
    /// Converts <paramref name="raw"/>; returns false with <paramref name="problem"/> set when the value is bad.
    /// <paramref name="applicationRoot"/> anchors relative <see cref="ValueKind.DataPath"/> values.
    /// </summary>
    public static bool TryParse(ConfigKey key, string raw, string applicationRoot, Func<string, string?> getEnvironment,
        out object value, out string problem)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(getEnvironment);
        value = raw;
        problem = string.Empty;
        if (raw.Length == 0 && key.Kind is ValueKind.Integer or ValueKind.Port or ValueKind.Boolean)
        {
            // The seed's templates leave numbers empty (`port =`); empty means "use the default".
            raw = key.Default;
        }

        switch (key.Kind)
        {
            case ValueKind.Text or ValueKind.Secret:
                return true;
            case ValueKind.Integer:
                if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) && n >= key.Min && n <= key.Max)
                {
                    value = n;
                    return true;
                }

                problem = $"expected a whole number from {key.Min} to {key.Max}, got '{raw}'";
                return false;
            case ValueKind.Port:
                if (TryParsePort(raw, out int port))
                {
                    value = port;
                    return true;
                }

                problem = $"expected a TCP port from 1 to 65535, got '{raw}'";
                return false;
            case ValueKind.Boolean:
                if (TryParseBoolean(raw, out bool b))
                {
                    value = b;
                    return true;
                }

                problem = $"expected true or false, got '{raw}'";
                return false;
            case ValueKind.IpAddress:
                if (IPAddress.TryParse(raw, out _))
                {
                    value = raw;
                    return true;
                }

                problem = $"expected an IP address such as 127.0.0.1, got '{raw}'";
                return false;
            case ValueKind.Endpoint:
                int colon = raw.LastIndexOf(':');
                var host = colon > 0 ? raw[..colon].Trim('[', ']') : string.Empty;
                if (host.Length > 0 && TryParsePort(raw[(colon + 1)..], out int endpointPort))
                {
                    value = new ListenEndpoint(host, endpointPort);
                    return true;
                }

                problem = $"expected address:port such as 127.0.0.1:8080, got '{raw}'";
                return false;
            case ValueKind.AbsolutePath or ValueKind.DataPath:
                return TryParsePath(key.Kind, raw, applicationRoot, getEnvironment, out value, out problem);
            default:
                throw new ArgumentOutOfRangeException(nameof(key), key.Kind, "unknown value kind");
        }
    }

    /// <summary>Parses a TCP port: digits only, 1 to 65535.</summary>
    public static bool TryParsePort(string text, out int port)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit)
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535)
        {
            return true;
        }

        port = 0;
        return false;
    }

    /// <summary>Parses a boolean the way ConfigParser's <c>getboolean</c> does (case-insensitive).</summary>
    public static bool TryParseBoolean(string text, out bool value)
    {
        ArgumentNullException.ThrowIfNull(text);
        switch (text.ToLowerInvariant())
        {
            case "true" or "yes" or "on" or "1":
                value = true;
                return true;
            case "false" or "no" or "off" or "0":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>
    /// Expands a leading <c>~</c> (to HOME) and <c>$VAR</c> / <c>${VAR}</c> anywhere. An unset variable
    /// is an error rather than left in place: a literal "$HOME" directory is never what was meant.
    /// </summary>
    public static bool TryExpand(string text, Func<string, string?> getEnvironment, out string expanded, out string problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(getEnvironment);
        var sb = new StringBuilder(text.Length + 32);
        int i = 0;
        if (text == "~" || text.StartsWith("~/", StringComparison.Ordinal))
        {
            if (getEnvironment("HOME") is not { Length: > 0 } home)
            {
                return Fail("'~' needs the HOME environment variable, which is not set", out expanded, out problem);
            }

            sb.Append(home);
            i = 1;
        }

        while (i < text.Length)
        {
            char c = text[i];
            if (c != '$')
            {
                sb.Append(c);
                i++;
                continue;
            }

            string name;
            if (i + 1 < text.Length && text[i + 1] == '{')
            {
                int close = text.IndexOf('}', i + 2);
                if (close < 0)
                {
                    return Fail($"unclosed '${{' in '{text}'", out expanded, out problem);
                }

                name = text[(i + 2)..close];
                i = close + 1;
            }
            else
            {
                int start = i + 1;
                int end = start;
                while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
                {
                    end++;
                }

                name = text[start..end];
                i = end;
            }

            if (name.Length == 0)
            {
                return Fail($"'$' without a variable name in '{text}'", out expanded, out problem);
            }

            if (getEnvironment(name) is not { } variable)
            {
                return Fail($"environment variable '{name}' is not set", out expanded, out problem);
            }

            sb.Append(variable);
        }

        expanded = sb.ToString();
        problem = string.Empty;
        return true;
    }

    private static bool TryParsePath(ValueKind kind, string raw, string applicationRoot, Func<string, string?> getEnvironment,
        out object value, out string problem)
    {
        value = raw;
        if (raw.Length == 0)
        {
            problem = "expected a path, got an empty value";
            return false;
        }

        if (!TryExpand(raw, getEnvironment, out var expanded, out var why))
        {
            problem = $"expected a path: {why}";
            return false;
        }

        if (expanded.Contains('\0', StringComparison.Ordinal))
        {
            problem = $"expected a path, got '{raw}' with a NUL character";
            return false;
        }

        if (!Path.IsPathFullyQualified(expanded))
        {
            if (kind == ValueKind.AbsolutePath)
            {
                problem = $"expected an absolute path (after expanding variables), got '{expanded}'";
                return false;
            }

            expanded = Path.Combine(applicationRoot, expanded);
        }

        value = Path.GetFullPath(expanded);
        problem = string.Empty;
        return true;
    }

    private static bool Fail(string why, out string expanded, out string problem)
    {
        expanded = string.Empty;
        problem = why;
        return false;
    }
}
