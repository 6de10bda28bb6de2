using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HtmEngine.Server.Configuration;

namespace HtmEngine.Server.Commands.Client;

/// <summary>An HTTP API call that did not succeed: the engine's own message and the status code, or why it was not reached.</summary>
public sealed class EngineCallException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The commands' view of a running engine's HTTP API. The address comes from <c>--url</c>, else <c>HTMENGINE_URL</c>,
/// else the configuration's <c>[web] listen</c>; the token from <c>--token</c>, else <c>HTMENGINE_TOKEN</c>, else
/// <c>[web] token</c>.
/// </summary>
public sealed class EngineClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client for <paramref name="baseAddress"/>.</summary>
    /// <param name="baseAddress">The engine's address, e.g. <c>http://127.0.0.1:8080</c>.</param>
    /// <param name="token">Bearer token for mutating calls; empty for none.</param>
    public EngineClient(Uri baseAddress, string token)
    {
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        if (token.Length > 0)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>The engine's address.</summary>
    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>Resolves the address and token from the options, the environment and the configuration.</summary>
    /// <param name="url"><c>--url</c>, or null.</param>
    /// <param name="token"><c>--token</c>, or null.</param>
    /// <param name="configDirectory"><c>--config</c>, or null.</param>
    /// <returns>The client.</returns>
    /// <exception cref="EngineCallException">The address is not an absolute http(s) URL.</exception>
    public static EngineClient Create(string? url, string? token, string? configDirectory)
    {
        url ??= Environment.GetEnvironmentVariable("HTMENGINE_URL");
        token ??= Environment.GetEnvironmentVariable("HTMENGINE_TOKEN");
        if (url is null || token is null)
        {
            WebOptions? web = null;
            try
            {
                web = EngineOptions.Bind(ConfigSource.LoadValues(configDirectory)).Web;
            }
            catch (ConfigurationException) when (configDirectory is null)
            {
                // No usable configuration here: fall back to the defaults.
            }

            url ??= web is null ? "http://127.0.0.1:8080" : "http://" + web.Listen;
            token ??= web?.Token ?? string.Empty;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new EngineCallException($"'{url}' is not an http:// or https:// address (--url or HTMENGINE_URL)");
        }

        return new EngineClient(address, token);
    }

    /// <summary>GETs <paramref name="path"/> and returns the JSON body.</summary>
    public Task<JsonNode> GetJsonAsync(string path, CancellationToken cancellationToken = default) =>
        SendJsonAsync(HttpMethod.Get, path, null, cancellationToken);

    /// <summary>GETs <paramref name="path"/> and returns the body as text (CSV, Prometheus text).</summary>
    public async Task<string> GetTextAsync(string path, CancellationToken cancellationToken = default)
    {
        using var response = await CallAsync(HttpMethod.Get, path, null, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a request with an optional JSON body; returns the JSON answer (an empty object for 204).</summary>
    public async Task<JsonNode> SendJsonAsync(HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken = default)
    {
        using var response = await CallAsync(method, path, body, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
    }

    /// <summary>GETs a streamed answer (one line per item) and hands each line to <paramref name="onLine"/>.</summary>
    public async Task StreamLinesAsync(string path, Action<string> onLine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onLine);
        using var response = await CallAsync(HttpMethod.Get, path, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            onLine(line);
        }
    }

    private async Task<HttpResponseMessage> CallAsync(HttpMethod method, string path, JsonNode? body, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new EngineCallException($"cannot reach the engine at {BaseAddress}: {e.Message} (is 'htmengine serve' running? Set --url or HTMENGINE_URL)", e);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            string message = text;
            try
            {
                message = JsonNode.Parse(text)?["error"]?.GetValue<string>() ?? text;
            }
            catch (JsonException)
            {
                // Not our JSON (a proxy's page, say): show the text as it is.
            }

            throw new EngineCallException($"{message} (HTTP {(int)response.StatusCode} from {method} {path})");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
