using System.Diagnostics;

namespace FlashdutySync.Flashduty;

/// <summary>The Flashduty calls the sync engine makes; a fake stands in for it in unit tests.</summary>
public interface IMappingApi
{
    Task<SchemaInfo?> GetSchemaInfoAsync(string schemaId, CancellationToken ct);

    Task<IReadOnlyList<Dictionary<string, string>>> DownloadAsync(string schemaId, CancellationToken ct);

    Task<(IReadOnlyList<string> Keys, string? RequestId)> UpsertAsync(string schemaId, IReadOnlyList<IReadOnlyDictionary<string, string>> docs,
        IReadOnlyList<ActivityLink> links, CancellationToken ct);

    Task<string?> DeleteAsync(string schemaId, IReadOnlyList<string> keys, IReadOnlyList<ActivityLink> links, CancellationToken ct);

    Task<string?> FindKeyAsync(string schemaId, IReadOnlyDictionary<string, string> sourceValues, CancellationToken ct);
}
