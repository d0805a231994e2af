using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlashdutySync.Flashduty;

/// <summary>The calls of the enrichment-mapping API this service makes. Every attempt spends an account permit.</summary>
public sealed class FlashdutyClient(HttpClient http) : IMappingApi
{
    private static readonly JsonSerializerOptions SnakeCase = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The schema's labels, or null when Flashduty says it does not exist.</summary>
    public async Task<SchemaInfo?> GetSchemaInfoAsync(string schemaId, CancellationToken ct)
    {
        var (data, _) = await PostJsonAsync("schema/info", "schema_info", new { schema_id = schemaId }, schemaId, 0, [], ct);
        return data is null || data.GetValueKind() == JsonValueKind.Null ? null : data.Deserialize<SchemaInfo>(SnakeCase);
    }

    /// <summary>
    /// Every row of the schema, as label → value, whatever shape the answer takes (see <see cref="DownloadParser"/>).
    /// An empty answer is taken for an empty schema only once <c>data/list</c> agrees.
    /// </summary>
    public async Task<SchemaRows> DownloadAsync(string schemaId, IReadOnlyCollection<string> labels, CancellationToken ct)
    {
        var download = await TryDownloadAsync(schemaId, labels, ct);
        if (download.Rows is { } rows) return rows;
        var page = await ListAsync(schemaId, null, 1, 1, ct);
        return EmptyDownload(download.ContentType, page);
    }

    /// <summary>
    /// One <c>data/download</c>: the rows, or null rows when the answer is empty (no header at all), which only
    /// <c>data/list</c> can tell from a schema without rows (see <see cref="EmptyDownload"/>).
    /// </summary>
    public async Task<(SchemaRows? Rows, string? ContentType)> TryDownloadAsync(string schemaId, IReadOnlyCollection<string> labels, CancellationToken ct)
    {
        var (body, contentType, _) = await PostAsync("data/download", "download", new { schema_id = schemaId }, schemaId, 0, [], ct);
        return (DownloadParser.Parse(body, contentType, labels), contentType);
    }

    /// <summary>An empty download is an empty schema only when a page of <c>data/list</c> finds no row either.</summary>
    public static SchemaRows EmptyDownload(string? contentType, RowPage page) =>
        page.Total == 0 && page.Items.Count == 0
            ? new SchemaRows([], "an empty answer (data/list confirms: no rows)")
            : throw new DownloadFormatException($"data/download answered an empty body ({contentType ?? "no content type"}) while data/list finds {page.Total} rows");

    /// <summary>The account's schemas as <c>schema/list</c> gives them, and the total it states.</summary>
    public async Task<SchemaList> ListSchemasAsync(CancellationToken ct)
    {
        var (data, requestId) = await PostJsonAsync("schema/list", "schema_list", new { }, null, 0, [], ct);
        if (data?["items"] is not JsonArray items)
            throw new FlashdutyApiException("schema/list", 200, null, "answered without data.items", requestId);
        var schemas = items.Where(i => i is JsonObject).Select(i => i.Deserialize<SchemaInfo>(SnakeCase)!).ToList();
        var total = data["total"]?.GetValueKind() == JsonValueKind.Number ? data["total"]!.GetValue<long>() : schemas.Count;
        return new SchemaList(schemas, total);
    }

    /// <summary>Upserts rows; returns Flashduty's <c>data.keys</c> as given (their order is not documented) and the request id.</summary>
    public async Task<(IReadOnlyList<string> Keys, string? RequestId)> UpsertAsync(string schemaId, IReadOnlyList<IReadOnlyDictionary<string, string>> docs,
        IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        var (data, requestId) = await PostJsonAsync("data/upsert", "upsert", new { schema_id = schemaId, docs }, schemaId, docs.Count, links, ct);
        var keys = data?["keys"] is JsonArray array ? array.Select(k => k?.GetValueKind() == JsonValueKind.String ? k.GetValue<string>() : "").ToList() : [];
        return (keys, requestId);
    }

    /// <summary>Deletes rows by key (at most 100 a call); returns the request id.</summary>
    public async Task<string?> DeleteAsync(string schemaId, IReadOnlyList<string> keys, IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        var (_, requestId) = await PostJsonAsync("data/delete", "delete", new { schema_id = schemaId, keys }, schemaId, keys.Count, links, ct);
        return requestId;
    }

    /// <summary>Finds the key Flashduty gave the row with these source values, or null.</summary>
    public async Task<string?> FindKeyAsync(string schemaId, IReadOnlyDictionary<string, string> sourceValues, CancellationToken ct)
    {
        // The query is documented as an exact match; the answer is checked all the same (a search-backed list could
        // match more loosely, and deleting another row's key would be worse than asking again).
        var page = await ListAsync(schemaId, sourceValues, 1, 20, ct);
        return page.Items.FirstOrDefault(i => i.Key.Length > 0 &&
                                              sourceValues.All(v => i.Fields.TryGetValue(v.Key, out var value) && value == v.Value))?.Key;
    }

    /// <summary>One page of <c>data/list</c> (newest first by creation).</summary>
    public async Task<RowPage> ListAsync(string schemaId, IReadOnlyDictionary<string, string>? query, int page, int limit, CancellationToken ct)
    {
        object body = query is null
            ? new { schema_id = schemaId, orderby = "created_at", p = page, limit }
            : new { schema_id = schemaId, query, orderby = "created_at", p = page, limit };
        var (data, _) = await PostJsonAsync("data/list", "list", body, schemaId, 0, [], ct);
        if (data?["items"] is not JsonArray listed && data?["items"]?.GetValueKind() is not JsonValueKind.Null && !(data?["total"]?.GetValueKind() == JsonValueKind.Number && data["total"]!.GetValue<long>() == 0))
            throw new FlashdutyApiException("data/list", 200, "", "answered without an items array", null);
        var items = (data?["items"] as JsonArray ?? []).Select(item => new ListedRow(
                item?["key"]?.GetValueKind() == JsonValueKind.String ? item["key"]!.GetValue<string>() : "",
                (item?["fields"] as JsonObject ?? []).Where(f => f.Value?.GetValueKind() == JsonValueKind.String)
                    .ToDictionary(f => f.Key, f => f.Value!.GetValue<string>(), StringComparer.Ordinal)))
            .ToList();
        var total = data?["total"]?.GetValueKind() == JsonValueKind.Number ? data["total"]!.GetValue<long>() : items.Count;
        var more = data?["has_next_page"]?.GetValueKind() == JsonValueKind.True;
        return new RowPage(items, total, more);
    }

    private async Task<(JsonNode? Data, string? RequestId)> PostJsonAsync(string path, string operation, object body, string? schemaId, int items,
        IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        var (bytes, _, requestId) = await PostAsync(path, operation, body, schemaId, items, links, ct);
        try
        {
            var root = JsonNode.Parse(WithoutBom(bytes).Span);
            return (root?["data"], root?["request_id"]?.GetValueKind() == JsonValueKind.String ? root["request_id"]!.GetValue<string>() : requestId);
        }
        catch (JsonException)
        {
            throw new FlashdutyApiException(path, 200, null, $"answered {bytes.Length} bytes that are not JSON", requestId);
        }
    }

    /// <summary>Sends one call; a failure (by code, whatever the status) becomes a <see cref="FlashdutyApiException"/>.</summary>
    private async Task<(byte[] Body, string? ContentType, string? RequestId)> PostAsync(string path, string operation, object body, string? schemaId, int items,
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
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new FlashdutyApiException(path, 0, null, ex.Message, call.LastRequestId, ex);
        }

        using (response)
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            var contentType = response.Content.Headers.ContentType?.ToString();
            var status = (int)response.StatusCode;
            // Read by the attempt handler. The code is authoritative: an error envelope is a failure even under a 2xx.
            if (status is >= 200 and < 300 && call.LastErrorCode is null) return (bytes, contentType, call.LastRequestId);
            throw new FlashdutyApiException(path, status, call.LastErrorCode, call.LastErrorMessage ?? response.ReasonPhrase ?? "no error message", call.LastRequestId);
        }
    }

    private static ReadOnlyMemory<byte> WithoutBom(byte[] body) =>
        body.AsSpan().StartsWith(System.Text.Encoding.UTF8.Preamble) ? body.AsMemory(3) : body;
}

/// <summary>What <c>schema/info</c> says of a schema.</summary>
public sealed record SchemaInfo(string SchemaId, string SchemaName, IReadOnlyList<string> SourceLabels, IReadOnlyList<string> ResultLabels);

/// <summary>One row of <c>data/list</c>: Flashduty's key and the labels.</summary>
public sealed record ListedRow(string Key, IReadOnlyDictionary<string, string> Fields);

/// <summary>One page of <c>data/list</c>; <see cref="Total"/> is exact only below 1,000.</summary>
public sealed record RowPage(IReadOnlyList<ListedRow> Items, long Total, bool HasNextPage);
