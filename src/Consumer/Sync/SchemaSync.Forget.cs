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
    // Journaled forgets to come, by journal schema id (the schema's, or its tombstones') and key.
    private readonly List<(string SchemaId, string Key)> _unjournaledForgets = [];
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
    /// Deleted (by a decommission past the retention, its delete written: Flashduty holds no row), nothing to write,
    /// and no label set after the decommission (an incomplete row of a host provisioned again keeps its labels).
    /// </summary>
    private bool Forgettable(KeyState state, DateTimeOffset now) =>
        state.DeletedAt is { } deleted && !StillStops(deleted, now) && state.Confirmed is null && state.Pending is null && state.InFlight is null
        && state.Unjournaled.Count == 0 && !state.CopiesSettled && !_unjournaled.Contains(state) && state.Labels.Values.All(l => l.At <= deleted);

    private void ForgetRow(KeyState state)
    {
        _keys.Remove(state.Key);
        if (_hostKeyed && _hostKeys.TryGetValue(HostOf(state.Key), out var keys) && keys.Remove(state.Key) && keys.Count == 0) _hostKeys.Remove(HostOf(state.Key));
        _unjournaledForgets.Add((Schema.SchemaId, state.Key));
    }

    /// <summary>A host's tombstone is dropped: its journal entry, if it has one, goes too. Under the lock.</summary>
    private void TombstoneForgotten(string host)
    {
        if (_journaledTombstones.Remove(host)) _unjournaledForgets.Add((TombstonesId, host));
    }

    /// <summary>The forgets to journal: each only while what it forgets is still gone (a row or tombstone made again since is not). Under the lock.</summary>
    private IEnumerable<JournalEntry> TakeForgetEntries()
    {
        var entries = _unjournaledForgets
            .Where(f => f.SchemaId == TombstonesId ? !_hostDeletedAt.ContainsKey(f.Key) : !_keys.ContainsKey(f.Key))
            .Select(f => new JournalEntry(f.SchemaId, f.Key, NoLabels, null, [], ReplacesEvents: false, Forget: true)).ToList();
        _unjournaledForgets.Clear();
        return entries;
    }
}
