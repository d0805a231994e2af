using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flashduty.Simulator;

namespace FlashdutySync.Tests.Simulator;

/// <summary>Calls the in-process simulator the way any client would.</summary>
public sealed class SimulatorClient(SimulatorHost host, string key = "k-full") : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = host.BaseUrl };

    public HttpClient Http => _http;

    public async Task<(int Status, JsonNode Body, string? HeaderId, HttpResponseMessage Response)> PostAsync(string endpoint, object body, string? appKey = null)
    {
        var response = await _http.PostAsJsonAsync($"/enrichment/mapping/{endpoint}?app_key={appKey ?? key}", body);
        var json = await response.Content.ReadFromJsonAsync<JsonNode>() ?? new JsonObject();
        var id = response.Headers.TryGetValues("Flashcat-Request-Id", out var ids) ? ids.First() : null;
        return ((int)response.StatusCode, json, id, response);
    }

    /// <summary>Posts and hands back the response itself, for answers that may not be JSON (<c>data/download</c>).</summary>
    public Task<HttpResponseMessage> PostRawAsync(string endpoint, object body, string? appKey = null) =>
        _http.PostAsJsonAsync($"/enrichment/mapping/{endpoint}?app_key={appKey ?? key}", body);

    public static string? Code(JsonNode body) => body["error"]?["code"]?.GetValue<string>();
    public static string Message(JsonNode body) => body["error"]?["message"]?.GetValue<string>() ?? "";

    public void Dispose() => _http.Dispose();
}

internal static class Docs
{
    public static object Row(string host, string owner = "alice", string team = "sre", string service = "api") => new { host, owner, team, service };

    public static JsonElement Json(object o) => JsonSerializer.SerializeToElement(o);
}
