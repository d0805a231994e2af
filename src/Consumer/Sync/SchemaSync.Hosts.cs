using System.Diagnostics;

namespace FlashdutySync.Sync;

/// <summary>
/// Schemas keyed by the host and other labels (say host and env): a <c>HostDecommissioned</c> names only the host,
/// so the rows of each host are indexed here, and the decommission applies to all of them.
/// </summary>
internal sealed partial class SchemaSync
{
    // Schemas keyed by the host (the source label the mapping fills from it) and other labels: a decommission
    // names only the host, so it finds its rows here.
    private const char Separator = SchemaDefinition.KeySeparator;
    private readonly bool _hostKeyed;
    private readonly int _hostIndex;
    private readonly Dictionary<string, HashSet<string>> _hostKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostDeletion> _hostDeletedAt = new(StringComparer.Ordinal);
    // Decommissions of hosts that had no row: no row carries their time into the journal, so an entry of its own does.
    private readonly HashSet<string> _unjournaledTombstones = new(StringComparer.Ordinal);

    /// <summary>Applies a decommission to every known row of the host; older events of the host may not create new rows (while this process runs).</summary>
    private Task<KeyOutcome> DecommissionHost(string host, InventoryEvent e, ActivityContext batch, EventCopy? copy)
    {
        List<Task<KeyOutcome>> outcomes;
        lock (_sync)
        {
            if (_stopping) return Task.FromResult(KeyOutcome.Released);
            Tombstone(host, e.OccurredAt, _time.GetUtcNow());
            if (_hostDeletedAt.Count % 1024 == 0) ForgetOldTombstones();
            outcomes = _hostKeys.TryGetValue(host, out var keys) ? keys.ToList().Select(k => ApplyToKey(k, e, e.Labels, batch, copy)).ToList() : [];
            // Its rows carry the decommission into the journal; without rows, an entry of its own does (a restart
            // keeps the tombstone).
            if (outcomes.Count == 0 && _unjournaledTombstones.Add(host)) JournalPending?.Invoke();
        }

        return outcomes.Count switch
        {
            0 => ChangesNothing,
            1 => outcomes[0],
            _ => CombineAsync(outcomes),
        };
    }

    /// <summary>One event's outcome over several rows: refused if any row was, given back if any was, else applied.</summary>
    private static async Task<KeyOutcome> CombineAsync(List<Task<KeyOutcome>> outcomes)
    {
        var all = await Task.WhenAll(outcomes).ConfigureAwait(false);
        // Given back first: a row not attempted yet must not send the event to the error queue.
        return all.FirstOrDefault(o => o.Kind == OutcomeKind.Released) ?? all.FirstOrDefault(o => o.Kind == OutcomeKind.Rejected) ?? KeyOutcome.Applied;
    }

    private KeyState NewKey(string key)
    {
        var state = new KeyState(key);
        _keys[key] = state;
        if (!_hostKeyed) return state;
        var host = HostOf(key);
        if (!_hostKeys.TryGetValue(host, out var keys)) _hostKeys[host] = keys = new HashSet<string>(StringComparer.Ordinal);
        keys.Add(key);
        if (_hostDeletedAt.TryGetValue(host, out var deletion)) (state.DeletedAt, state.DeletedSeen) = (deletion.At, deletion.Seen);
        return state;
    }

    /// <summary>The host a row of a host-keyed schema belongs to: its key's host part.</summary>
    private string HostOf(string key) => key.Split(Separator)[_hostIndex];

    /// <summary>
    /// Where the journal keeps the schema's tombstones of hosts without rows: a journal schema id of their own, keyed
    /// by the host. Apart from the rows, so that no row's key can be taken for one, and a version that knows nothing
    /// of them never reads them (it asks the journal for its schemas' rows only).
    /// </summary>
    public static string TombstonesOf(string schemaId) => TombstonesPrefix + schemaId;

    /// <summary>Whether a journal schema id holds tombstones (<see cref="TombstonesOf"/>), not rows.</summary>
    public static bool IsTombstones(string journalSchemaId) => journalSchemaId.StartsWith(TombstonesPrefix, StringComparison.Ordinal);

    private const string TombstonesPrefix = "\u0000tombstones:";

    private string TombstonesId => _tombstonesId ??= TombstonesOf(Schema.SchemaId);
    private string? _tombstonesId;

    /// <summary>Whether a decommission at <paramref name="deletedAt"/> still stops older events: within <see cref="SyncOptions.DeleteRetention"/>.</summary>
    private bool StillStops(DateTimeOffset deletedAt, DateTimeOffset now) => now - deletedAt < _options.DeleteRetention;

    /// <summary>
    /// As <see cref="StillStops(DateTimeOffset, DateTimeOffset)"/>, or within the retention of when this service learnt of
    /// it (<paramref name="seen"/>): a decommission drained from a backlog older than the retention still stops the older
    /// events behind it.
    /// </summary>
    private bool StillStops(DateTimeOffset deletedAt, DateTimeOffset? seen, DateTimeOffset now) =>
        StillStops(deletedAt, now) || (seen is { } learnt && StillStops(learnt, now));

    /// <summary>The journal entries of decommissions of hosts without rows, taken with the rows' (under the lock). Expired ones stop nothing: not journaled.</summary>
    private IEnumerable<JournalEntry> TakeTombstoneEntries()
    {
        var now = _time.GetUtcNow();
        var entries = new List<JournalEntry>();
        foreach (var host in _unjournaledTombstones)
        {
            if (!_hostDeletedAt.TryGetValue(host, out var deletion) || !StillStops(deletion.At, deletion.Seen, now)) continue;
            entries.Add(new JournalEntry(TombstonesId, host, NoLabels, deletion.At, [], ReplacesEvents: false, DeletedSeen: deletion.Seen));
            _journaledTombstones.Add(host);
        }

        _unjournaledTombstones.Clear();
        return entries;
    }

    private static readonly IReadOnlyDictionary<string, (string? Value, DateTimeOffset At)> NoLabels = new Dictionary<string, (string?, DateTimeOffset)>();

    /// <summary>The host was decommissioned at <paramref name="at"/>, learnt at <paramref name="seen"/>: its tombstone keeps the latest decommission. Under the lock.</summary>
    private void Tombstone(string host, DateTimeOffset at, DateTimeOffset seen)
    {
        if (!_hostDeletedAt.TryGetValue(host, out var before) || before.At < at) _hostDeletedAt[host] = new HostDeletion(at, seen);
        else if (before.At == at && before.Seen < seen) _hostDeletedAt[host] = before with { Seen = seen };
    }

    /// <summary>Past <see cref="SyncOptions.DeleteRetention"/> a tombstone stops nothing (see Merge): dropped, so memory follows recent decommissions.</summary>
    private void ForgetOldTombstones()
    {
        var now = _time.GetUtcNow();
        foreach (var (host, deletion) in _hostDeletedAt.ToList())
        {
            if (StillStops(deletion.At, deletion.Seen, now)) continue;
            _hostDeletedAt.Remove(host);
            TombstoneForgotten(host, deletion.At);
        }
    }
}

/// <summary>A host's decommission: when it occurred, and when this service learnt of it (its clock).</summary>
internal readonly record struct HostDeletion(DateTimeOffset At, DateTimeOffset Seen);
