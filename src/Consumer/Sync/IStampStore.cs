namespace FlashdutySync.Sync;

/// <summary>
/// Durable memory of when the events behind each written row occurred, per label, so that after a restart a stale
/// event redelivered by RabbitMQ cannot overwrite a newer value that is already in Flashduty.
/// </summary>
/// <remarks>
/// Flashduty's rows hold values only. Without this, a restarted service took every downloaded value as the oldest
/// possible, and the fault suite (kill -9 while events with out-of-order timestamps flow) ended with rows older
/// than the model. Stamps are saved after Flashduty confirms a write and before its events are acknowledged, so
/// every event not covered by a saved stamp is still in RabbitMQ and is re-applied.
/// </remarks>
public interface IStampStore
{
    /// <summary>Every saved stamp, merged (newest wins), by schema id then row key.</summary>
    Task<IReadOnlyDictionary<string, Dictionary<string, RowStamps>>> LoadAsync(CancellationToken ct);

    /// <summary>Saves the stamps of rows Flashduty just confirmed. Returns once they are durable.</summary>
    Task SaveAsync(string schemaId, IReadOnlyList<(string Key, RowStamps Stamps)> rows, CancellationToken ct);
}

/// <summary>When each label of a row was last set (or cleared), and when the row was last deleted.</summary>
public sealed record RowStamps(IReadOnlyDictionary<string, DateTimeOffset> Labels, DateTimeOffset? DeletedAt)
{
    /// <summary>Newest of both, label by label.</summary>
    public RowStamps Merge(RowStamps other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var labels = new Dictionary<string, DateTimeOffset>(Labels, StringComparer.Ordinal);
        foreach (var (label, at) in other.Labels)
        {
            if (!labels.TryGetValue(label, out var mine) || at > mine) labels[label] = at;
        }

        return new RowStamps(labels, DeletedAt is { } a && other.DeletedAt is { } b ? (a > b ? a : b) : DeletedAt ?? other.DeletedAt);
    }
}

/// <summary>Keeps nothing: every restart starts from the downloaded rows alone.</summary>
public sealed class NoStampStore : IStampStore
{
    public static readonly NoStampStore Instance = new();

    public Task<IReadOnlyDictionary<string, Dictionary<string, RowStamps>>> LoadAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyDictionary<string, Dictionary<string, RowStamps>>>(new Dictionary<string, Dictionary<string, RowStamps>>());

    public Task SaveAsync(string schemaId, IReadOnlyList<(string Key, RowStamps Stamps)> rows, CancellationToken ct) => Task.CompletedTask;
}
