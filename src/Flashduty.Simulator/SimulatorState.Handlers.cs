using System.Security.Cryptography;
using System.Text.Json;

namespace Flashduty.Simulator;

public sealed partial class SimulatorState
{
    private static readonly Dictionary<string, Func<SimulatorState, JsonElement, ApiResult>> Handlers = new()
    {
        ["schema/create"] = (s, b) => s.CreateSchema(b),
        ["schema/info"] = (s, b) => s.SchemaInfo(b),
        ["schema/list"] = (s, _) => new ApiResult(new { items = s.Schemas.OrderBy(x => x.CreatedAt).Select(Describe).ToList(), total = s._schemas.Count }),
        ["data/upsert"] = (s, b) => s.Upsert(b),
        ["data/delete"] = (s, b) => s.Delete(b),
        ["data/list"] = (s, b) => s.List(b),
        ["data/download"] = (s, b) => s.Download(b),
        ["data/truncate"] = (s, b) => s.Truncate(b),
    };

    private static object Describe(SimSchema s) => new
    {
        schema_id = s.SchemaId, schema_name = s.SchemaName, description = s.Description, source_labels = s.SourceLabels,
        result_labels = s.ResultLabels, status = "enabled", team_id = s.TeamId, creator_id = 1,
        created_at = s.CreatedAt.ToUnixTimeSeconds(), updated_at = s.UpdatedAt.ToUnixTimeSeconds(),
    };

    private ApiResult CreateSchema(JsonElement body)
    {
        var name = Json.OptionalString(body, "schema_name");
        var source = Json.StringArray(body, "source_labels");
        var result = Json.StringArray(body, "result_labels");
        var description = Json.OptionalString(body, "description") ?? "";
        SchemaRules.ValidateSchema(name, source, result, description);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var schema = AddSchema(id, name!, source, result, description: description);
        return new ApiResult(new { schema_id = schema.SchemaId, schema_name = schema.SchemaName }, schema.SchemaId);
    }

    private ApiResult SchemaInfo(JsonElement body)
    {
        var id = Json.RequiredString(body, "schema_id");
        return new ApiResult(GetSchema(id) is { } s ? Describe(s) : null, id);
    }

    private SimSchema RequireSchema(JsonElement body)
    {
        var id = Json.RequiredString(body, "schema_id");
        if (!SchemaRules.IsSchemaId(id)) throw ApiError.Invalid($"schema_id '{id}' is not a valid id (24 hex characters)");
        return GetSchema(id) ?? throw ApiError.MissingSchema(Readings.MissingSchemaCode, $"schema_id '{id}' does not exist");
    }

    private ApiResult Upsert(JsonElement body)
    {
        var schema = RequireSchema(body);
        if (!body.TryGetProperty("docs", out var docs) || docs.ValueKind != JsonValueKind.Array)
            throw ApiError.Invalid("docs is required and must be an array");
        var n = docs.GetArrayLength();
        if (n == 0) throw ApiError.Invalid("docs is empty");
        if (n > SchemaRules.MaxDocs) throw ApiError.Invalid($"docs has {n} items, the most is {SchemaRules.MaxDocs}");
        var list = docs.EnumerateArray().ToList();
        if (Faults.RejectValue is { } refused)
        {
            var bad = list.FindIndex(d => d.ValueKind == JsonValueKind.Object && d.EnumerateObject().Any(p => p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == refused));
            if (bad >= 0) throw ApiError.Invalid($"docs[{bad}] has a value that is not accepted");
        }

        var keys = UpsertRows(schema, list);
        OrderKeys(keys, Readings.KeyOrder);
        return new ApiResult(new { keys }, schema.SchemaId, n);
    }

    private List<string> UpsertRows(SimSchema schema, List<JsonElement> docs)
    {
        var readings = Readings;
        var rows = new List<Dictionary<string, string>>(docs.Count);
        for (var i = 0; i < docs.Count; i++)
        {
            var doc = docs[i];
            if (doc.ValueKind != JsonValueKind.Object) throw ApiError.Invalid($"docs[{i}] is not an object");
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var label in schema.AllLabels)
            {
                if (!doc.TryGetProperty(label, out var value) || value.ValueKind == JsonValueKind.Null)
                    throw ApiError.Invalid($"docs[{i}] has no value for label '{label}'");
                if (value.ValueKind != JsonValueKind.String) throw ApiError.Invalid($"docs[{i}].{label} is not a string");
                var text = value.GetString()!;
                if (SchemaRules.ValueLength(text, readings.ValueLimitUnit) is var length and > SchemaRules.MaxValueLength)
                    throw ApiError.Invalid($"docs[{i}].{label} is {length} {SchemaRules.UnitName(readings.ValueLimitUnit)} long, the most is {SchemaRules.MaxValueLength}");
                if (text.Length == 0 && schema.SourceLabels.Contains(label))
                    throw ApiError.Invalid($"docs[{i}].{label} is empty: source label values make the key");
                fields[label] = text;
            }

            rows.Add(fields);
        }

        var now = Time.GetUtcNow();
        lock (schema.Sync)
        {
            var keys = rows.Select(r => schema.KeyOf(r, readings.MultiLabelKeySpelling)).ToList();
            var added = keys.Distinct().Count(k => !schema.Rows.ContainsKey(k));
            if (schema.Rows.Count + added > schema.RowCap)
                throw ApiError.Invalid($"schema {schema.SchemaId} holds {schema.Rows.Count} rows; {added} new rows would pass its cap of {schema.RowCap}");
            var unchanged = 0;
            for (var i = 0; i < rows.Count; i++)
            {
                var seq = schema.NextSeq();
                if (schema.Rows.TryGetValue(keys[i], out var before) && SameFields(before.Fields, rows[i])) unchanged++;
                schema.Rows[keys[i]] = schema.Rows.TryGetValue(keys[i], out var old)
                    ? old with { Fields = rows[i], UpdatedAt = now, Seq = seq }
                    : new SimRow(keys[i], rows[i], now, now, seq);
            }

            schema.UpdatedAt = now;
            Stats.Unchanged(unchanged);
            RowsStored?.Invoke(schema.SchemaId, rows);
            return keys;
        }
    }

    private static bool SameFields(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private ApiResult Delete(JsonElement body)
    {
        var schema = RequireSchema(body);
        var keys = Json.StringArray(body, "keys");
        if (keys.Count == 0) throw ApiError.Invalid("keys is empty");
        if (keys.Count > SchemaRules.MaxKeys) throw ApiError.Invalid($"keys has {keys.Count} items, the most is {SchemaRules.MaxKeys}");
        lock (schema.Sync)
        {
            if (Readings.UnknownKeyDelete == UnknownKeyDelete.Refuse && keys.FindIndex(k => !schema.Rows.ContainsKey(k)) is var unknown and >= 0)
                throw ApiError.Invalid($"keys[{unknown}] '{keys[unknown]}' is not the key of a row of schema {schema.SchemaId}");
            foreach (var key in keys) schema.Rows.Remove(key);
        }

        return new ApiResult(null, schema.SchemaId, keys.Count);
    }

    private ApiResult Truncate(JsonElement body)
    {
        var schema = RequireSchema(body);
        lock (schema.Sync) schema.Rows.Clear();
        return new ApiResult(null, schema.SchemaId);
    }

    private ApiResult List(JsonElement body)
    {
        var schema = RequireSchema(body);
        var orderBy = Json.OptionalString(body, "orderby") ?? "created_at";
        if (orderBy is not ("created_at" or "updated_at")) throw ApiError.Invalid($"orderby '{orderBy}' must be created_at or updated_at");
        var asc = body.TryGetProperty("asc", out var a) && a.ValueKind == JsonValueKind.True;
        var page = Json.OptionalInt(body, "p") ?? 1;
        var limit = Json.OptionalInt(body, "limit") ?? 20;
        if (page < 1) throw ApiError.Invalid($"p is {page}, it must be 1 or more");
        if (limit is < 1 or > 100) throw ApiError.Invalid($"limit is {limit}, it must be 1 to 100");
        IEnumerable<SimRow> rows = schema.Snapshot();
        if (body.TryGetProperty("query", out var query) && query.ValueKind == JsonValueKind.Object)
        {
            var wanted = new Dictionary<string, string>();
            foreach (var label in schema.SourceLabels)
            {
                if (!query.TryGetProperty(label, out var v) || v.ValueKind != JsonValueKind.String)
                    throw ApiError.Invalid($"query must name every source label; '{label}' is missing");
                wanted[label] = v.GetString()!;
            }

            rows = rows.Where(r => wanted.All(w => r.Fields[w.Key] == w.Value));
        }

        Func<SimRow, (DateTimeOffset, long)> sortKey = orderBy == "created_at" ? r => (r.CreatedAt, r.Seq) : r => (r.UpdatedAt, r.Seq);
        var sorted = (asc ? rows.OrderBy(sortKey) : rows.OrderByDescending(sortKey)).ToList();
        var items = sorted.Skip((page - 1) * limit).Take(limit).Select(r => new
        {
            key = r.Key, fields = r.Fields, created_at = r.CreatedAt.ToUnixTimeSeconds(), updated_at = r.UpdatedAt.ToUnixTimeSeconds(),
        }).ToList();
        return new ApiResult(new { items, total = sorted.Count, has_next_page = page * limit < sorted.Count }, schema.SchemaId, items.Count);
    }

    private ApiResult Download(JsonElement body)
    {
        var schema = RequireSchema(body);
        var rows = schema.Snapshot();
        return new ApiResult(CsvDownload.Answer(schema, rows, Readings.DownloadFormat), schema.SchemaId, rows.Count);
    }
}
