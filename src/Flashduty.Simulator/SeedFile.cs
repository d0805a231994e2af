using System.Text.Json;

namespace Flashduty.Simulator;

/// <summary>
/// Loads schemas with fixed ids, and optionally rows, from a JSON file:
/// <c>{"schemas": [{"schema_id", "schema_name", "source_labels", "result_labels", "row_cap"?, "rows"?: [{label: value}]}]}</c>.
/// </summary>
public static class SeedFile
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Load(SimulatorState state, string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"seed file '{path}' not found (looked at {full}; relative paths start at the working directory)", full);
        var seed = JsonSerializer.Deserialize<Seed>(File.ReadAllText(full), Options)
                   ?? throw new InvalidOperationException($"seed file '{path}' is empty");
        foreach (var schema in seed.Schemas)
        {
            state.AddSchema(schema.SchemaId, schema.SchemaName, schema.SourceLabels, schema.ResultLabels, schema.RowCap, schema.Description ?? "");
            if (schema.Rows is { Count: > 0 } rows) state.SeedRows(schema.SchemaId, rows);
        }
    }

    private sealed record Seed(List<SeedSchema> Schemas);

    private sealed record SeedSchema(string SchemaId, string SchemaName, List<string> SourceLabels, List<string> ResultLabels,
        int? RowCap, string? Description, List<Dictionary<string, string>>? Rows);
}
