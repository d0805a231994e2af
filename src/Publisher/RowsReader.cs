using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using CsvHelper;

namespace InventoryPublisher;

/// <summary>Reads a schema's rows back from Flashduty (or the simulator) and lays them out as a table.</summary>
public static class RowsReader
{
    public static async Task<(bool Ok, string Text)> DownloadAsync(Uri baseUrl, string appKey, string schemaId, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.PostAsJsonAsync($"/enrichment/mapping/data/download?app_key={Uri.EscapeDataString(appKey)}", new { schema_id = schemaId }, ct);
        var body = await response.Content.ReadFromJsonAsync<JsonNode>(ct);
        if (!response.IsSuccessStatusCode || body?["error"] is { } error)
            return (false, $"data/download failed: HTTP {(int)response.StatusCode} {body?["error"]?["code"]} {body?["error"]?["message"]} (request_id {body?["request_id"]})");

        using var csv = new CsvReader(new StringReader(body?["data"]?.GetValue<string>() ?? ""), CultureInfo.InvariantCulture);
        var table = new List<string[]>();
        while (await csv.ReadAsync()) table.Add(Enumerable.Range(0, csv.Parser.Count).Select(i => csv.GetField(i) ?? "").ToArray());
        if (table.Count == 0) return (true, "(no rows)");
        var widths = Enumerable.Range(0, table[0].Length).Select(c => table.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        var text = new StringBuilder();
        for (var r = 0; r < table.Count; r++)
        {
            text.AppendLine(string.Join("  ", table[r].Select((v, c) => v.PadRight(widths[c]))).TrimEnd());
            if (r == 0) text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        }

        text.Append(CultureInfo.InvariantCulture, $"({table.Count - 1} rows, request_id {body?["request_id"]})");
        return (true, text.ToString());
    }
}
