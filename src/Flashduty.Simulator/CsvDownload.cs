using System.Globalization;
using System.Text;
using CsvHelper;
using CsvHelper.Configuration;

namespace Flashduty.Simulator;

/// <summary>
/// Writes a schema's rows as <c>data/download</c> answers them under each <see cref="DownloadFormat"/>: header =
/// source labels then result labels in the schema's order, fields quoted where they need it.
/// </summary>
internal static class CsvDownload
{
    /// <summary>The most rows a download carries (the schema's default cap).</summary>
    public const int MaxRows = 10_000;

    /// <summary>The answer's data: the CSV text for the envelope, else a <see cref="RawBody"/>.</summary>
    public static object Answer(SimSchema schema, IReadOnlyList<SimRow> rows, DownloadFormat format)
    {
        var text = Write(schema, rows, format == DownloadFormat.OctetStream ? "\n" : "\r\n");
        return format switch
        {
            DownloadFormat.Envelope => text,
            DownloadFormat.Csv => new RawBody(Encoding.UTF8.GetBytes(text), "text/csv; charset=utf-8", FileName(schema)),
            DownloadFormat.CsvBom => new RawBody([.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes(text)], "text/csv; charset=utf-8", FileName(schema)),
            DownloadFormat.OctetStream => new RawBody(Encoding.UTF8.GetBytes(text), "application/octet-stream", FileName(schema)),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a download format"),
        };
    }

    private static string FileName(SimSchema schema) => schema.SchemaName + ".csv";

    private static string Write(SimSchema schema, IReadOnlyList<SimRow> rows, string newLine)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        // With NewLine set, CsvHelper quotes only fields holding that exact sequence: a lone '\n' or '\r' in a value
        // would go out bare and split the row. Quote any line-break character, as RFC 4180 wants.
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            NewLine = newLine,
            ShouldQuote = a => a.Field is { Length: > 0 } f && (f.AsSpan().IndexOfAny("\r\n\",") >= 0 || f[0] == ' ' || f[^1] == ' '),
        };
        using (var csv = new CsvWriter(writer, config))
        {
            foreach (var label in schema.AllLabels) csv.WriteField(label);
            csv.NextRecord();
            foreach (var row in rows.Take(MaxRows))
            {
                foreach (var label in schema.AllLabels) csv.WriteField(row.Fields[label]);
                csv.NextRecord();
            }
        }

        return writer.ToString();
    }
}
