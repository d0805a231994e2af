using System.Globalization;
using System.Text;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;

namespace FlashdutySync.Flashduty;

/// <summary>
/// Reads <c>data/download</c>'s answer in every shape the reference allows: the JSON envelope with the CSV as
/// <c>data</c>, or the raw CSV (<c>text/csv</c>, <c>application/octet-stream</c>, any other non-JSON type), with or
/// without a UTF-8 BOM, CRLF or LF line ends, quoted fields. Columns are matched to the schema's labels by name.
/// Anything else is a <see cref="DownloadFormatException"/> that says what came back.
/// </summary>
public static class DownloadParser
{
    private const int ShownChars = 160;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The rows, or null when the answer is empty (no header at all): the caller must find out whether the schema is.</summary>
    public static SchemaRows? Parse(ReadOnlySpan<byte> body, string? contentType, IReadOnlyCollection<string> labels)
    {
        var bom = body.StartsWith(Encoding.UTF8.Preamble);
        if (bom) body = body[3..];
        string text;
        try
        {
            text = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw new DownloadFormatException($"data/download answered {Describe(contentType, body.Length)} that is not UTF-8 text");
        }

        var media = contentType?.Split(';')[0].Trim().ToLowerInvariant();
        string shape;
        // By the body, not the label: a raw CSV may well be served as application/json (the reference declares JSON).
        if (text.TrimStart().StartsWith('{'))
        {
            text = CsvOfEnvelope(text, contentType, body.Length);
            shape = "JSON envelope with CSV text";
        }
        else if (media is "text/html")
        {
            throw new DownloadFormatException($"data/download answered {Describe(contentType, body.Length)}, not CSV: '{Shown(text)}' (a proxy's page?)");
        }
        else
        {
            shape = $"raw CSV ({media ?? "no content type"}{(bom ? ", UTF-8 BOM" : "")})";
        }

        if (text.StartsWith('\uFEFF')) text = text[1..];
        if (string.IsNullOrWhiteSpace(text)) return null;
        shape += text.Contains("\r\n", StringComparison.Ordinal) ? ", CRLF" : ", LF";
        return new SchemaRows(ReadCsv(text, labels), shape);
    }

    private static string CsvOfEnvelope(string text, string? contentType, int length)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data))
            {
                if (data.ValueKind == JsonValueKind.String) return data.GetString()!;
                throw new DownloadFormatException($"data/download answered a JSON envelope whose data is {data.ValueKind.ToString().ToLowerInvariant()}, not CSV text: '{Shown(text)}'");
            }

            throw new DownloadFormatException($"data/download answered JSON without data: '{Shown(text)}'");
        }
        catch (JsonException)
        {
            throw new DownloadFormatException($"data/download answered {Describe(contentType, length)} that is neither JSON nor CSV: '{Shown(text)}'");
        }
    }

    private static List<Dictionary<string, string>> ReadCsv(string text, IReadOnlyCollection<string> labels)
    {
        var config = new CsvConfiguration(CultureInfo.InvariantCulture) { DetectColumnCountChanges = true, BadDataFound = null };
        using var reader = new CsvReader(new StringReader(text), config);
        var rows = new List<Dictionary<string, string>>();
        if (!reader.Read() || !reader.ReadHeader()) return rows;
        var header = reader.HeaderRecord ?? [];
        var missing = labels.Where(l => !header.Contains(l, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            throw new DownloadFormatException(
                $"data/download's header '{Shown(string.Join(",", header))}' lacks the schema's label(s) {string.Join(", ", missing)} (expected {string.Join(",", labels)})");
        }

        var index = labels.ToDictionary(l => l, l => Array.IndexOf(header, l), StringComparer.Ordinal);
        try
        {
            while (reader.Read())
            {
                var row = new Dictionary<string, string>(index.Count, StringComparer.Ordinal);
                foreach (var (label, column) in index) row[label] = reader.GetField(column) ?? "";
                rows.Add(row);
            }
        }
        catch (CsvHelperException ex) when (ex is BadDataException or CsvHelper.MissingFieldException)
        {
            throw new DownloadFormatException($"data/download's CSV is malformed at row {reader.Parser.Row}: {ex.GetType().Name}");
        }

        return rows;
    }

    private static string Describe(string? contentType, int length) =>
        $"{length.ToString(CultureInfo.InvariantCulture)} bytes of {(string.IsNullOrEmpty(contentType) ? "no content type" : contentType)}";

    private static string Shown(string text)
    {
        var flat = new string(text.Take(ShownChars).Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return text.Length > ShownChars ? flat + "…" : flat;
    }
}
