using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsvHelper;

namespace FlashdutySync.Flashduty;

/// <summary>The calls of the enrichment-mapping API this service makes. Every attempt spends an account permit.</summary>
public sealed class FlashdutyClient(HttpClient http) : IMappingApi
{
    private static readonly JsonSerializerOptions SnakeCase = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The schema's labels, or null when Flashduty says it does not exist.</summary>
    public async Task<SchemaInfo?> GetSchemaInfoAsync(string schemaId, CancellationToken ct)
    {
        var (data, _) = await PostAsync("schema/info", "schema_info", new { schema_id = schemaId }, schemaId, 0, [], ct);
        return data is null || data.GetValueKind() == JsonValueKind.Null ? null : data.Deserialize<SchemaInfo>(SnakeCase);
    }

    /// <summary>Every row of the schema (up to 10,000), as label → value.</summary>
    public async Task<IReadOnlyList<Dictionary<string, string>>> DownloadAsync(string schemaId, CancellationToken ct)
    {
        var (data, _) = await PostAsync("data/download", "download", new { schema_id = schemaId }, schemaId, 0, [], ct);
        var text = data?.GetValue<string>() ?? "";
        using var reader = new CsvReader(new StringReader(text), CultureInfo.InvariantCulture);
        var rows = new List<Dictionary<string, string>>();
        if (!await reader.ReadAsync() || !reader.ReadHeader()) return rows;
        var header = reader.HeaderRecord ?? [];
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, string>(header.Length, StringComparer.Ordinal);
            for (var i = 0; i < header.Length; i++) row[header[i]] = reader.GetField(i) ?? "";
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Upserts rows; returns Flashduty's keys in the order of the docs, and the request id.</summary>
    public async Task<(IReadOnlyList<string> Keys, string? RequestId)> UpsertAsync(string schemaId, IReadOnlyList<IReadOnlyDictionary<string, string>> docs,
        IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        var (data, requestId) = await PostAsync("data/upsert", "upsert", new { schema_id = schemaId, docs }, schemaId, docs.Count, links, ct);
        var keys = data?["keys"]?.AsArray().Select(k => k?.GetValue<string>() ?? "").ToList() ?? [];
        return (keys, requestId);
    }

    /// <summary>Deletes rows by key (at most 100 a call); returns the request id.</summary>
    public async Task<string?> DeleteAsync(string schemaId, IReadOnlyList<string> keys, IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        var (_, requestId) = await PostAsync("data/delete", "delete", new { schema_id = schemaId, keys }, schemaId, keys.Count, links, ct);
        return requestId;
    }

    /// <summary>Finds the key Flashduty gave the row with these source values, or null.</summary>
    public async Task<string?> FindKeyAsync(string schemaId, IReadOnlyDictionary<string, string> sourceValues, CancellationToken ct)
    {
        var (data, _) = await PostAsync("data/list", "list", new { schema_id = schemaId, query = sourceValues, p = 1, limit = 1 }, schemaId, 0, [], ct);
        return data?["items"]?.AsArray().FirstOrDefault()?["key"]?.GetValue<string>();
    }

    private async Task<(JsonNode? Data, string? RequestId)> PostAsync(string path, string operation, object body, string? schemaId, int items,
        IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "enrichment/mapping/" + path)
        {
            Content = JsonContent.Create(body, options: SnakeCase),
        };
        var call = new CallInfo(operation, schemaId, items, links);
        request.Options.Set(FlashdutyAttemptHandler.Call, call);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException)
        {
            throw new FlashdutyApiException(path, 0, null, ex.Message, call.LastRequestId, ex);
        }

        using (response)
        {
            JsonNode? root = null;
            try
            {
                root = await response.Content.ReadFromJsonAsync<JsonNode>(ct).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                // a proxy's HTML error page, say: the status decides below
            }

            var requestId = root?["request_id"]?.GetValue<string>() ?? call.LastRequestId;
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300 && root?["error"] is null)
            {
                return (root?["data"], requestId);
            }

            var error = root?["error"];
            throw new FlashdutyApiException(path, status, error?["code"]?.GetValue<string>(),
                error?["message"]?.GetValue<string>() ?? response.ReasonPhrase ?? "no error message", requestId);
        }
    }
}

/// <summary>What <c>schema/info</c> says of a schema.</summary>
public sealed record SchemaInfo(string SchemaId, string SchemaName, IReadOnlyList<string> SourceLabels, IReadOnlyList<string> ResultLabels);
