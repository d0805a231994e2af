using System.Globalization;
using CsvHelper;
using CsvHelper.Configuration;
using Inventory.Contracts;

namespace InventoryPublisher;

/// <summary>
/// Reads hosts from a CSV with a header row: <c>host</c> (required), <c>owner</c>, <c>team</c>, <c>service</c>,
/// and any other column as an extra label. Each row becomes a <see cref="HostProvisioned"/>.
/// </summary>
public static class CsvImport
{
    private static readonly HashSet<string> Named = ["host", "owner", "team", "service"];

    public static IEnumerable<HostProvisioned> Read(TextReader text, DateTimeOffset occurredAt)
    {
        using var csv = new CsvReader(text, new CsvConfiguration(CultureInfo.InvariantCulture) { TrimOptions = TrimOptions.Trim });
        if (!csv.Read() || !csv.ReadHeader()) yield break;
        var header = csv.HeaderRecord!;
        if (!header.Contains("host")) throw new InvalidDataException($"the CSV header ({string.Join(",", header)}) has no 'host' column");
        var line = 1;
        while (csv.Read())
        {
            line++;
            var host = csv.GetField("host");
            if (string.IsNullOrWhiteSpace(host)) throw new InvalidDataException($"line {line}: 'host' is empty");
            string? Field(string name) => header.Contains(name) && csv.GetField(name) is { Length: > 0 } v ? v : null;
            var labels = header.Where(h => !Named.Contains(h)).Select(h => (h, csv.GetField(h))).Where(x => !string.IsNullOrEmpty(x.Item2))
                .ToDictionary(x => x.h, x => x.Item2!);
            yield return new HostProvisioned
            {
                Host = host, Owner = Field("owner"), Team = Field("team"), Service = Field("service"),
                Labels = labels.Count > 0 ? labels : null, OccurredAt = occurredAt, EventId = $"csv-{line}",
            };
        }
    }
}
