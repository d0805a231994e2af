using FlashdutySync.Flashduty;
using FlashdutySync.Sync;

namespace InventoryPublisher;

/// <summary>
/// Reads, through the service's own Flashduty client (limiter, retries, key kept out of every message), the hosts
/// each configured schema holds that decommissions reach: the schemas whose source label the event's host fills
/// under the schema's mapping. Two requests per schema (<c>schema/info</c>, <c>data/download</c>).
/// </summary>
public static class FlashdutyHosts
{
    public static async Task<(List<SchemaHosts> HostKeyed, List<string> LeftAlone)> ReadAsync(FlashdutyClient client, FlashdutyOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        var hostKeyed = new List<SchemaHosts>();
        var leftAlone = new List<string>();
        foreach (var (schemaId, mapping) in options.ConfiguredSchemas())
        {
            var info = await client.GetSchemaInfoAsync(schemaId, ct)
                       ?? throw new InvalidDataException($"Flashduty has no mapping schema {schemaId} ({mapping.ConfigPath}); fix the configuration before pruning");
            if (mapping.HostLabel(info.SourceLabels) is not { } hostLabel)
            {
                leftAlone.Add(mapping.Feeds(EventKind.HostDecommissioned)
                    ? $"schema {schemaId} ({info.SchemaName}): no source label is filled by the host; left alone"
                    : $"schema {schemaId} ({info.SchemaName}): HostDecommissioned does not feed it ({mapping.ConfigPath}:Events); left alone");
                continue;
            }

            var rows = await client.DownloadAsync(schemaId, [.. info.SourceLabels, .. info.ResultLabels], ct);
            var byHost = rows.Rows.Where(r => r.TryGetValue(hostLabel, out var h) && h.Length > 0)
                .GroupBy(r => r[hostLabel], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            hostKeyed.Add(new SchemaHosts(schemaId, info.SchemaName, hostLabel, rows.Rows.Count, byHost));
        }

        return (hostKeyed, leftAlone);
    }
}
