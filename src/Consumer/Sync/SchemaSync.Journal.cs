namespace FlashdutySync.Sync;

/// <summary>
/// What the row journal needs of a schema: the rows changed since they were last journaled (taken by the
/// <see cref="JournalCommitter"/>, which acknowledges events only once the broker holds them), and the start of a
/// term: the journal's desired rows over Flashduty's, with what differs queued for writing.
/// </summary>
internal sealed partial class SchemaSync
{
    private const string DeleteMark = "\u0000delete";
    private readonly HashSet<KeyState> _unjournaled = [];

    /// <summary>Called when rows are waiting to be journaled (the committer's doorbell).</summary>
    public Action? JournalPending { get; set; }

    /// <summary>Marks the row for the next journal record, with the event's copy if it waits for a write. Under the lock.</summary>
    private void MarkForJournal(KeyState state, EventCopy? copy)
    {
        if (copy is not null) state.Unjournaled.Add(copy);
        if (_unjournaled.Add(state) && _unjournaled.Count == 1) JournalPending?.Invoke();
    }

    /// <summary>After a write landed or was refused: the row's next record says which copies it still needs. Under the lock.</summary>
    private void CopiesSettled(KeyState state)
    {
        state.CopiesSettled = true;
        MarkForJournal(state, null);
    }

    /// <summary>The rows changed since the last call, as journal entries, oldest first.</summary>
    public List<JournalEntry> TakeJournalEntries()
    {
        lock (_sync)
        {
            // Forgets first: a row made again after its forget was taken (an append failed meanwhile) comes after it.
            SweepIfDue();
            var entries = TakeForgetEntries();
            foreach (var state in _unjournaled)
            {
                var labels = state.Labels.ToDictionary(l => l.Key, l => (l.Value.Value, l.Value.At), StringComparer.Ordinal);
                // After a write, the copies of the events still unwritten are all the row needs; else what was added.
                IReadOnlyList<EventCopy> copies = state.CopiesSettled ? StillNeeded(state) : [.. state.Unjournaled];
                entries.Add(new JournalEntry(Schema.SchemaId, state.Key, labels, state.DeletedAt, copies, state.CopiesSettled, DeletedSeen: state.DeletedSeen));
                state.Unjournaled.Clear();
                state.CopiesSettled = false;
            }

            _unjournaled.Clear();
            entries.AddRange(TakeTombstoneEntries());
            return entries;
        }
    }

    /// <summary>Gives entries back whose append failed: merged with what changed since, they go in the next record.</summary>
    public void ReturnJournalEntries(IEnumerable<JournalEntry> entries)
    {
        lock (_sync)
        {
            foreach (var entry in entries)
            {
                if (entry.Forget)
                {
                    _unjournaledForgets.Add((entry.SchemaId, entry.Key, entry.DeletedAt!.Value));
                    continue;
                }

                if (entry.SchemaId == TombstonesId)
                {
                    _unjournaledTombstones.Add(entry.Key);
                    continue;
                }

                if (!_keys.TryGetValue(entry.Key, out var state)) continue;
                if (entry.ReplacesEvents) state.CopiesSettled = true;
                else state.Unjournaled.InsertRange(0, entry.Events);
                _unjournaled.Add(state);
            }
        }
    }

    private static List<EventCopy> StillNeeded(KeyState state) =>
        [.. (state.Pending?.Waiters ?? []).Concat(state.InFlight?.Waiters ?? []).Select(w => w.Copy).OfType<EventCopy>().DistinctBy(c => c.Identity)];

    public int UnjournaledRows
    {
        get { lock (_sync) return _unjournaled.Count + _unjournaledTombstones.Count + _unjournaledForgets.Count; }
    }

    /// <summary>
    /// Starts the term: Flashduty's rows (from <c>data/download</c>) as what is confirmed, every label as old as can
    /// be; over them the journal's desired rows (the previous holder's acknowledged events, written or not). Rows
    /// where both differ are queued for writing, with the events that wait on them. A row whose source values hold
    /// the key separator cannot be told from another row's: left alone.
    /// </summary>
    /// <param name="rows">Flashduty's rows.</param>
    /// <param name="journal">The journal's rows of the schema.</param>
    /// <param name="tombstones">The journal's tombstones of the schema's hosts that had no rows (<see cref="TombstonesOf"/>).</param>
    public void Load(IEnumerable<IReadOnlyDictionary<string, string>> rows, IReadOnlyDictionary<string, JournalRow>? journal = null,
        IReadOnlyDictionary<string, JournalRow>? tombstones = null)
    {
        lock (_sync)
        {
            foreach (var row in rows)
            {
                if (KeyOfDownloaded(row) is not { } key) continue;
                var state = NewKey(key);
                state.Confirmed = _labels.ToDictionary(l => l, l => row[l], StringComparer.Ordinal);
                foreach (var label in _labels) state.Labels[label] = new Stamped(row[label], DateTimeOffset.MinValue);
            }

            _projectedRows = _keys.Values.Count(k => k.Latest is not null);
            RestoreHostTombstones(journal, tombstones);
            foreach (var (key, saved) in journal ?? Empty)
            {
                if (!_keys.TryGetValue(key, out var state)) state = NewKey(key);
                foreach (var (label, (value, at)) in saved.Labels)
                {
                    if (!state.Labels.TryGetValue(label, out var had) || at >= had.At) state.Labels[label] = new Stamped(value, at);
                }

                if (saved.DeletedAt is { } d && (state.DeletedAt is not { } was || d > was)) state.DeletedAt = d;
                if (saved.DeletedSeen is { } seen && (state.DeletedSeen is not { } before || seen > before)) state.DeletedSeen = seen;
                // Journaled before the service noted when it learnt of a decommission: from now, and journaled so (once).
                if (state.DeletedAt is not null && state.DeletedSeen is null)
                {
                    state.DeletedSeen = _time.GetUtcNow();
                    MarkForJournal(state, null);
                }

                var target = TargetOf(state);
                // Incomplete (its events wait in the wait queue), or already what Flashduty holds: nothing to write,
                // and the copies the journal kept for it are needed no more.
                if (Rows.Same(target, state.Confirmed) || (target is null && state.Confirmed is null) || (target is null && state.DeletedAt is null))
                {
                    if (saved.Events.Count > 0) CopiesSettled(state);
                    continue;
                }

                Requeue(state, target, saved.Events.Select(c => new Waiter(default, c.OccurredAt, c)));
            }
        }
    }

    /// <summary>
    /// A decommission stamps every row its host has, and those rows are journaled: their times give the host's
    /// tombstone back, so that after a restart, as before it, an older event for another combination of the host
    /// creates no row (see <see cref="DecommissionHost"/>); a host that had no rows has an entry of its own
    /// (<see cref="TombstonesOf"/>). After Flashduty's rows are loaded: a row found there that
    /// the journal does not know is not the service's to delete. Under the lock.
    /// </summary>
    private void RestoreHostTombstones(IReadOnlyDictionary<string, JournalRow>? journal, IReadOnlyDictionary<string, JournalRow>? tombstones)
    {
        if (!_hostKeyed) return;
        var now = _time.GetUtcNow();
        // Past the retention a tombstone stops nothing (see ForgetOldTombstones). Only rows with a decommission need their key split.
        var rows = (journal ?? Empty).Where(r => r.Value.DeletedAt is not null).Select(r => (Host: HostOf(r.Key), r.Value.DeletedAt, r.Value.DeletedSeen));
        foreach (var (host, deletedAt, seen) in rows)
        {
            if (deletedAt is { } deleted && StillStops(deleted, seen, now)) Tombstone(host, deleted, seen ?? now);
        }

        // A tombstone entry past the retention stops nothing: not restored, and forgotten in the journal too.
        foreach (var (host, saved) in tombstones ?? Empty)
        {
            if (saved.DeletedAt is { } deleted && StillStops(deleted, saved.DeletedSeen, now))
            {
                Tombstone(host, deleted, saved.DeletedSeen ?? now);
                _journaledTombstones.Add(host);
            }
            else if (saved.DeletedAt is { } expired)
            {
                _unjournaledForgets.Add((TombstonesId, host, expired));
            }
        }
    }

    private static readonly IReadOnlyDictionary<string, JournalRow> Empty = new Dictionary<string, JournalRow>();

    /// <summary>
    /// The key of a downloaded row; null for a row missing a label, or whose source values hold the key separator (it
    /// cannot be told from another row's): such rows are left alone.
    /// </summary>
    private string? KeyOfDownloaded(IReadOnlyDictionary<string, string> row) =>
        Schema.KeyOf(row) is { } key && _labels.All(row.ContainsKey) && !Schema.SourceLabels.Any(l => row[l].Contains(Separator, StringComparison.Ordinal)) ? key : null;
}
