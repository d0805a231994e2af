using System.Diagnostics;

namespace FlashdutySync.Flashduty;

/// <summary>The Flashduty calls the sync engine makes; a fake stands in for it in unit tests.</summary>
public interface IMappingApi
{
    Task<SchemaInfo?> GetSchemaInfoAsync(string schemaId, CancellationToken ct);

    /// <summary>Every row of the schema; <see cref="DownloadFormatException"/> when the answer is in no known shape.</summary>
    Task<SchemaRows> DownloadAsync(string schemaId, IReadOnlyCollection<string> labels, CancellationToken ct);

    Task<(IReadOnlyList<string> Keys, string? RequestId)> UpsertAsync(string schemaId, IReadOnlyList<IReadOnlyDictionary<string, string>> docs,
        IReadOnlyList<ActivityLink> links, CancellationToken ct);

    Task<string?> DeleteAsync(string schemaId, IReadOnlyList<string> keys, IReadOnlyList<ActivityLink> links, CancellationToken ct);

    Task<string?> FindKeyAsync(string schemaId, IReadOnlyDictionary<string, string> sourceValues, CancellationToken ct);

    Task<RowPage> ListAsync(string schemaId, IReadOnlyDictionary<string, string>? query, int page, int limit, CancellationToken ct);
}
