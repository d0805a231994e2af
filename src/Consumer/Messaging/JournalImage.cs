using System.Runtime.InteropServices;
using FlashdutySync.Sync;

namespace FlashdutySync.Messaging;

/// <summary>
/// The journal as its holder has had it confirmed, row by row and serialised: what a background compaction
/// republishes, so that it need not read back and parse the records the holder wrote itself (that was 24% of a
/// full sync's allocations, #13). Each row is its last self-contained record and the records since, in order.
/// </summary>
/// <remarks>
/// A record of the holder's own supersedes the row's earlier ones when it carries everything they did: the holder
/// journals a row whole (every label with its time, the decommission time), so only event copies add up, until a
/// record replaces them (a write landed). A record of another holder (read during a compaction: a previous holder
/// still appending) is never taken to supersede anything, nor to be superseded until the next load. Not thread-safe:
/// used under the journal's compaction gate.
/// </remarks>
internal sealed class JournalImage
{
    private readonly Dictionary<string, Dictionary<string, Row>> _schemas = new(StringComparer.Ordinal);

    /// <summary>The bytes of every row's records: about what a compaction republishes.</summary>
    public long Bytes { get; private set; }

    /// <summary>Rows and host tombstones (entries of their own: <see cref="SchemaSync.TombstonesOf"/>).</summary>
    public int Rows { get; private set; }

    /// <summary>Of <see cref="Rows"/>, the host tombstones.</summary>
    public int Tombstones => _schemas.Where(s => SchemaSync.IsTombstones(s.Key)).Sum(s => s.Value.Count);

    /// <param name="entry">The row's record, as appended.</param>
    /// <param name="appended">Its bytes as appended (<see cref="RowWriter"/>).</param>
    /// <param name="own">Whether this holder wrote it (a whole row), or another one did.</param>
    /// <param name="writer">Writes the record again where the image keeps it otherwise.</param>
    /// <remarks>
    /// The image never keeps a record that replaces copies where nothing of its own comes before it: republished, it
    /// would clear the copies of a record left ahead of the merge in the queue (another holder's, landed after the
    /// fence). Nor does another holder's record replace copies: placed after this holder's own, it would clear theirs.
    /// </remarks>
    public void Add(JournalEntry entry, byte[] appended, bool own, RowWriter writer)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(appended);
        ArgumentNullException.ThrowIfNull(writer);
        if (entry.Forget)
        {
            // This holder's, of a row that has nothing newer than what it forgets, no copy and no other holder's record:
            // nothing of the row is kept, and the next compaction leaves it out. Otherwise (and another holder's forget)
            // the row stays, and the next load decides (JournalState.Merge).
            if (own && entry.DeletedAt is { } forgotten && _schemas.TryGetValue(entry.SchemaId, out var had) && had.TryGetValue(entry.Key, out var gone)
                && !gone.Foreign && !gone.Copies && gone.Newest <= forgotten.UtcTicks)
            {
                had.Remove(entry.Key);
                Rows--;
                Bytes -= gone.Length;
            }

            return;
        }

        if (!own && entry.ReplacesEvents)
        {
            entry = entry with { ReplacesEvents = false };
            appended = writer.Write(entry);
        }

        if (!_schemas.TryGetValue(entry.SchemaId, out var rows)) _schemas[entry.SchemaId] = rows = new Dictionary<string, Row>(StringComparer.Ordinal);
        ref var row = ref CollectionsMarshal.GetValueRefOrAddDefault(rows, entry.Key, out var existed);
        var copies = entry.Events.Count > 0;
        var newest = Newest(entry);
        if (!existed) Rows++;
        // Whole (as many labels, nothing older than before: a check on the holder's promise, not a proof of it) and
        // carrying or replacing every copy kept.
        var supersedes = own && !row.Foreign && entry.Labels.Count >= row.Labels && newest >= row.Newest && (entry.ReplacesEvents || (!copies && !row.Copies));
        if (!existed || supersedes)
        {
            if (existed) Bytes -= row.Length;
            var record = entry.ReplacesEvents ? writer.Write(entry with { ReplacesEvents = false }) : appended;
            row = new Row { Last = record, Copies = copies, Foreign = !own };
        }
        else
        {
            (row.Before ??= []).Add(row.Last!);
            row.Last = appended;
            row.Copies |= copies;
            row.Foreign |= !own;
        }

        row.Labels = Math.Max(row.Labels, entry.Labels.Count);
        row.Newest = Math.Max(row.Newest, newest);
        Bytes += row.Last.Length;
    }

    /// <summary>
    /// Folds every row kept as several records into one (event copies adding up while Flashduty is away, another
    /// holder's records): a compaction republishes each row once, and the image stays the size of the rows.
    /// </summary>
    public void Collapse(RowWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var rows in _schemas.Values)
        {
            foreach (var key in rows.Keys)
            {
                ref var row = ref CollectionsMarshal.GetValueRefOrNullRef(rows, key);
                if (row.Before is null) continue;
                var state = new JournalState();
                foreach (var record in row.Before.Append(row.Last!)) state.Merge(JournalRecordFormat.ReadRow(record));
                var merged = state.Entries().Single() with { ReplacesEvents = false };
                Bytes -= row.Length;
                row.Last = writer.Write(merged);
                row.Before = null;
                row.Copies = merged.Events.Count > 0;
                Bytes += row.Last.Length;
            }
        }
    }

    /// <summary>A copy to add to without changing this one.</summary>
    public JournalImage Clone()
    {
        var copy = new JournalImage { Bytes = Bytes, Rows = Rows };
        foreach (var (schema, rows) in _schemas)
        {
            var copied = new Dictionary<string, Row>(rows.Count, StringComparer.Ordinal);
            foreach (var (key, row) in rows) copied[key] = row with { Before = row.Before is null ? null : [.. row.Before] };
            copy._schemas[schema] = copied;
        }

        return copy;
    }

    private static long Newest(JournalEntry entry)
    {
        var newest = entry.DeletedAt?.UtcTicks ?? 0;
        foreach (var label in entry.Labels.Values) newest = Math.Max(newest, label.At.UtcTicks);
        return newest;
    }

    /// <summary>Every row's records, each row's in the order they were appended.</summary>
    public IEnumerable<byte[]> Records()
    {
        foreach (var rows in _schemas.Values)
        {
            foreach (var row in rows.Values)
            {
                foreach (var before in row.Before ?? []) yield return before;
                yield return row.Last!;
            }
        }
    }

    private struct Row
    {
        public byte[]? Last;
        public List<byte[]>? Before;
        // Some record kept adds event copies; some record kept is another holder's.
        public bool Copies;
        public bool Foreign;
        // The most labels and the newest time any record kept had.
        public int Labels;
        public long Newest;

        public readonly long Length => Last!.Length + (Before?.Sum(b => (long)b.Length) ?? 0);
    }
}
