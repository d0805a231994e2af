namespace FlashdutySync.Sync;

/// <summary>
/// Decommissions past <see cref="SyncOptions.DeleteRetention"/>: a deleted row, and a tombstone of a host without
/// rows, stop nothing any more, so they are forgotten, in memory and in the row journal. Without this, every row that
/// ever existed stayed in both: a fleet that replaces 10,000 hosts a day grew its heap by 10–20 MB a day (1–2 KB a
/// row), its journal too, and a term's load with it, not with the rows.
/// </summary>
internal sealed partial class SchemaSync
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(10);
    // Journaled forgets to come, by journal schema id (the schema's, or its tombstones'), key and the decommission forgotten.
    private readonly List<(string SchemaId, string Key, DateTimeOffset Deleted)> _unjournaledForgets = [];
    // Hosts whose tombstone the journal holds as an entry of its own: only those need a forget.
    private readonly HashSet<string> _journaledTombstones = new(StringComparer.Ordinal);
    private long _lastSweep;
    private bool _swept;

    /// <summary>The keys the schema knows of (rows, deleted rows not forgotten yet, incomplete rows).</summary>
    public int KnownKeys
    {
        get { lock (_sync) return _keys.Count; }
    }

    /// <summary>Forgets what no longer stops anything, at most every <see cref="SweepEvery"/> (the first time at once). Under the lock.</summary>
    private void SweepIfDue()
    {
        if (_swept && _time.GetElapsedTime(_lastSweep) < SweepEvery) return;
        (_swept, _lastSweep) = (true, _time.GetTimestamp());
        var now = _time.GetUtcNow();
        foreach (var state in _keys.Values.Where(s => Forgettable(s, now)).ToList()) ForgetRow(state);
        ForgetOldTombstones();
    }

    /// <summary>
    /// Deleted by a decommission past the retention, counted both from when it occurred and from when this service
    /// learnt of it (a decommission drained from a backlog older than the retention still keeps the older events
    /// behind it from making its row again); its delete written (Flashduty holds no row); nothing to write or to
    /// journal; no label set since the decommission (an incomplete row of a host provisioned again keeps its labels:
    /// see <see cref="JournalState.ClearedBy"/>).
    /// </summary>
    private bool Forgettable(KeyState state, DateTimeOffset now) =>
        state.DeletedAt is { } deleted && state.DeletedSeen is not null && !StillStops(deleted, state.DeletedSeen, now)
        && state.Confirmed is null && state.Pending is null && state.InFlight is null
        && state.Unjournaled.Count == 0 && !state.CopiesSettled && !_unjournaled.Contains(state)
        && state.Labels.Values.All(l => JournalState.ClearedBy(l.Value, l.At, deleted));

    private void ForgetRow(KeyState state)
    {
        DropKey(state);
        _unjournaledForgets.Add((Schema.SchemaId, state.Key, state.DeletedAt!.Value));
    }

    /// <summary>The key is no longer known: an event naming it later starts from nothing. Under the lock.</summary>
    private void DropKey(KeyState state)
    {
        _keys.Remove(state.Key);
        if (_hostKeyed && _hostKeys.TryGetValue(HostOf(state.Key), out var keys) && keys.Remove(state.Key) && keys.Count == 0) _hostKeys.Remove(HostOf(state.Key));
    }

    /// <summary>A host's tombstone of <paramref name="deleted"/> is dropped: its journal entry, if it has one, goes too. Under the lock.</summary>
    private void TombstoneForgotten(string host, DateTimeOffset deleted)
    {
        if (_journaledTombstones.Remove(host)) _unjournaledForgets.Add((TombstonesId, host, deleted));
    }

    /// <summary>
    /// The forgets to journal, to go ahead of the rows of the same record. Each names the decommission it forgets: a
    /// row or tombstone made again since, journaled after it or newer than it, is kept (JournalState.Merge). Under the lock.
    /// </summary>
    private List<JournalEntry> TakeForgetEntries()
    {
        var entries = new List<JournalEntry>(_unjournaled.Count + _unjournaledForgets.Count);
        foreach (var (schemaId, key, deleted) in _unjournaledForgets) entries.Add(new JournalEntry(schemaId, key, NoLabels, deleted, [], ReplacesEvents: false, Forget: true));
        _unjournaledForgets.Clear();
        return entries;
    }
}
