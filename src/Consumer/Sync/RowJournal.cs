namespace FlashdutySync.Sync;

/// <summary>
/// The service's own durable state, kept in RabbitMQ (see <c>RabbitMqRowJournal</c>): per schema and row key, the
/// desired row (each label's value and the time of the event that set it, and when the host was decommissioned)
/// and copies of the acknowledged events not yet written to Flashduty. An event is acknowledged once the record
/// naming its row is confirmed by the broker; the writer works from memory and a restarted or next replica from the
/// journal. Held by one replica at a time: <see cref="AcquireAsync"/> is the fence.
/// </summary>
public interface IRowJournal
{
    /// <summary>
    /// Waits until this replica alone holds the journal. The token returned is cancelled the moment it is lost (the
    /// broker went away, the lock's channel closed): from then on this replica must not write to Flashduty.
    /// </summary>
    Task<CancellationToken> AcquireAsync(CancellationToken ct);

    /// <summary>Reads and merges every record (the holder only), compacting them.</summary>
    Task<JournalState> LoadAsync(CancellationToken ct);

    /// <summary>Appends entries; returns once the broker has confirmed them.</summary>
    /// <remarks>
    /// Each entry carries its row whole: every label the row has, with its time, and its decommission time (only
    /// event copies add up from record to record). The journal may then drop the row's earlier records.
    /// </remarks>
    Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct);

    /// <summary>
    /// Lets go of the journal held under <paramref name="lease"/> (the token <see cref="AcquireAsync"/> returned);
    /// nothing if this replica no longer holds it under that lease (it took it again since). <paramref name="clean"/>:
    /// no write of this replica is in flight any more.
    /// </summary>
    Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct);

    /// <summary>
    /// Set while this replica has events in hand and waits for the journal: <see cref="AcquireAsync"/> then asks the
    /// holder to hand it over (a replica holding it without consuming: it took it after a broker restart, say).
    /// </summary>
    bool HandoverWanted { get; set; }

    /// <summary>Called on the holder when another replica, with events in hand, asks for the journal.</summary>
    Action? HandoverRequested { get; set; }

    /// <summary>How long a holder cut off from the broker may go on before it notices the lock is lost.</summary>
    TimeSpan LossDetection { get; }
}

/// <summary>
/// One row's record: labels (value null: cleared by a decommission) with their times, and event copies. With
/// <c>ReplacesEvents</c> the copies are all the row still needs (a write just landed), not additions. With
/// <c>Forget</c> the row is dropped, provided nothing of it is newer than <c>DeletedAt</c>, the decommission forgotten
/// (past the retention, its delete written), and no event copy waits on it. <c>DeletedSeen</c>: when the service
/// learnt of the decommission.
/// </summary>
public sealed record JournalEntry(string SchemaId, string Key, IReadOnlyDictionary<string, (string? Value, DateTimeOffset At)> Labels, DateTimeOffset? DeletedAt,
    IReadOnlyList<EventCopy> Events, bool ReplacesEvents, bool Forget = false, DateTimeOffset? DeletedSeen = null);

/// <summary>Every record merged: per schema and key, the newest value of each label, and the event copies.</summary>
public sealed class JournalState
{
    public Dictionary<string, Dictionary<string, JournalRow>> Schemas { get; } = new(StringComparer.Ordinal);

    /// <summary>The last record is a clean release: no write of the previous holder can still land.</summary>
    public bool CleanlyReleased { get; set; }

    /// <summary>The previous holder's term; the next one is one more.</summary>
    public long Term { get; set; }

    public IReadOnlyDictionary<string, JournalRow> For(string schemaId) =>
        Schemas.TryGetValue(schemaId, out var rows) ? rows : new Dictionary<string, JournalRow>(StringComparer.Ordinal);

    /// <summary>Folds one entry in: newest label time wins, a later record on equal times; copies added or replaced.</summary>
    public void Merge(JournalEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        CleanlyReleased = false;
        if (entry.Forget)
        {
            // Only what the forget saw: a record of the row that is newer (another holder's, a re-creation) keeps it.
            if (Schemas.TryGetValue(entry.SchemaId, out var had) && had.TryGetValue(entry.Key, out var gone) && entry.DeletedAt is { } forgotten
                && gone.Events.Count == 0 && (gone.DeletedAt is not { } at || at <= forgotten) && gone.Labels.Values.All(l => ClearedBy(l.Value, l.At, forgotten)))
                had.Remove(entry.Key);
            return;
        }

        if (!Schemas.TryGetValue(entry.SchemaId, out var rows)) Schemas[entry.SchemaId] = rows = new Dictionary<string, JournalRow>(StringComparer.Ordinal);
        if (!rows.TryGetValue(entry.Key, out var row)) rows[entry.Key] = row = new JournalRow();
        foreach (var (label, stamped) in entry.Labels)
        {
            if (!row.Labels.TryGetValue(label, out var had) || stamped.At >= had.At) row.Labels[label] = stamped;
        }

        if (entry.DeletedAt is { } d && (row.DeletedAt is not { } was || d > was)) row.DeletedAt = d;
        if (entry.DeletedSeen is { } seen && (row.DeletedSeen is not { } before || seen > before)) row.DeletedSeen = seen;
        if (entry.ReplacesEvents) row.Events.Clear();
        foreach (var copy in entry.Events)
        {
            if (row.Events.All(c => c.Identity != copy.Identity)) row.Events.Add(copy);
        }
    }

    /// <summary>
    /// A label as a decommission at <paramref name="deleted"/> leaves it: set before it, or cleared by it. A value set at
    /// its very time (a later arrival may) counts as set since.
    /// </summary>
    public static bool ClearedBy(string? value, DateTimeOffset at, DateTimeOffset deleted) => at < deleted || (at == deleted && value is null);

    public IEnumerable<JournalEntry> Entries() =>
        Schemas.SelectMany(s => s.Value.Select(r => new JournalEntry(s.Key, r.Key, r.Value.Labels, r.Value.DeletedAt, r.Value.Events, ReplacesEvents: false,
            DeletedSeen: r.Value.DeletedSeen)));
}

public sealed class JournalRow
{
    public Dictionary<string, (string? Value, DateTimeOffset At)> Labels { get; } = new(StringComparer.Ordinal);
    public DateTimeOffset? DeletedAt { get; set; }
    public DateTimeOffset? DeletedSeen { get; set; }
    public List<EventCopy> Events { get; } = [];
}

/// <summary>A journal in memory, always held: for tests and for a service run without a broker (<c>check</c>).</summary>
public sealed class InMemoryRowJournal : IRowJournal
{
    private readonly object _sync = new();
    private readonly List<JournalEntry> _entries = [];
    private CancellationTokenSource _lease = new();
    private bool _released = true;
    private long _term;

    public int Appends { get; private set; }

    public bool HandoverWanted { get; set; }

    public Action? HandoverRequested { get; set; }

    public TimeSpan LossDetection => TimeSpan.Zero;

    public Task<CancellationToken> AcquireAsync(CancellationToken ct)
    {
        lock (_sync)
        {
            _lease = new CancellationTokenSource();
            return Task.FromResult(_lease.Token);
        }
    }

    /// <summary>As if the broker closed the lock's channel.</summary>
    public void Lose()
    {
        lock (_sync) _lease.Cancel();
    }

    public Task<JournalState> LoadAsync(CancellationToken ct)
    {
        lock (_sync)
        {
            var state = new JournalState();
            foreach (var entry in _entries) state.Merge(entry);
            state.CleanlyReleased = _released;
            state.Term = _term++;
            _released = false;
            return Task.FromResult(state);
        }
    }

    public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
    {
        lock (_sync)
        {
            _entries.AddRange(entries);
            Appends++;
            _released = false;
        }

        return Task.CompletedTask;
    }

    public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct)
    {
        lock (_sync)
        {
            if (_lease.Token == lease) _released = clean;
        }

        return Task.CompletedTask;
    }
}
