using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using CsvHelper;

namespace InventoryPublisher;

/// <summary>Reads a schema's rows back from Flashduty (or the simulator) and lays them out as a table.</summary>
public static class RowsReader
{
    public static async Task<(bool Ok, string Text)> DownloadAsync(Uri baseUrl, string appKey, string schemaId, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.PostAsJsonAsync($"/enrichment/mapping/data/download?app_key={Uri.EscapeDataString(appKey)}", new { schema_id = schemaId }, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        if (!response.IsSuccessStatusCode) return (false, $"data/download failed: HTTP {(int)response.StatusCode} {DownloadBody.Describe(body)}");

        string text;
        string? requestId;
        try
        {
            text = DownloadBody.CsvText(response.Content.Headers.ContentType?.MediaType, body, out requestId);
        }
        catch (InvalidDataException ex)
        {
            return (false, $"data/download failed: HTTP {(int)response.StatusCode}, {ex.Message}");
        }

        requestId ??= response.Headers.TryGetValues("Flashcat-Request-Id", out var ids) ? ids.FirstOrDefault() : null;
        return (true, Layout(text, requestId));
    }

    /// <summary>The CSV as aligned columns, header underlined, line breaks inside values shown as <c>\n</c>.</summary>
    internal static string Layout(string csvText, string? requestId)
    {
        using var csv = new CsvReader(new StringReader(csvText), CultureInfo.InvariantCulture);
        var table = new List<string[]>();
        while (csv.Read()) table.Add(Enumerable.Range(0, csv.Parser.Count).Select(i => Visible(csv.GetField(i) ?? "")).ToArray());
        if (table.Count <= 1) return $"(no rows, request_id {requestId})";
        var widths = Enumerable.Range(0, table.Max(r => r.Length)).Select(c => table.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        var text = new StringBuilder();
        for (var r = 0; r < table.Count; r++)
        {
            text.AppendLine(string.Join("  ", table[r].Select((v, c) => v.PadRight(widths[c]))).TrimEnd());
            if (r == 0) text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        }

        text.Append(CultureInfo.InvariantCulture, $"({table.Count - 1} rows, request_id {requestId})");
        return text.ToString();
    }

    private static string Visible(string value) => value.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
