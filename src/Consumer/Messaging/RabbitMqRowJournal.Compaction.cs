using FlashdutySync.Sync;
using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// Compaction: every record up to a fence of its own is read and held unacknowledged, their merge is published as a
/// few large records, and only then is what was read acknowledged (deleted). A crash in between leaves both copies,
/// and merging is idempotent (newest label time wins, event copies by identity).
/// </summary>
/// <remarks>
/// At a load every record is parsed and merged. In the background (the holder, once enough was appended) the merge is
/// the holder's <see cref="JournalImage"/>: records it wrote this term (its <c>app-id</c>) are acknowledged unread,
/// and only another's are parsed (a previous holder still appending: kept, merged in; a newer holder's mark: this
/// one gives up).
/// </remarks>
internal sealed partial class RabbitMqRowJournal
{
    private readonly RowWriter _rows = new();
    private JournalImage _image = new();
    // This term's records carry it as their app-id: a background compaction knows them without reading them.
    private string _ownId = "";

    /// <summary>
    /// The channel a load or compaction reads and republishes on: one of the lock's connection while this replica
    /// holds the lock. The records it holds unacknowledged then go back to the queue the moment the lock goes (the
    /// broker closes both at once), so the next holder's load never runs without them. On a connection of their own
    /// they stayed held until this replica noticed the loss, up to the lock's loss detection: the next holder loaded
    /// without them, and its term ran with older rows (review of #13).
    /// </summary>
    private async Task<IChannel> ReadingChannelAsync(CancellationToken ct)
    {
        await _broker.GetAsync(ct); // declares the queues
        return _lock is { IsOpen: true } held
            ? await held.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct)
            : await _broker.OpenExtraAsync(ct);
    }

    /// <summary>For tests: runs once a load or compaction has read every record (and holds them unacknowledged).</summary>
    internal Func<Task>? ReadForTests { get; set; }

    /// <summary>For tests: the lock's connection goes, as when the broker drops it.</summary>
    internal Task DropLockForTestsAsync() => _lock?.AbortAsync() ?? Task.CompletedTask;

    /// <summary>Whether a tail of <paramref name="appends"/> records and <paramref name="bytes"/> is worth merging into the last merge.</summary>
    internal static bool WorthCompacting(int appends, long bytes, long mergedBytes) =>
        appends >= CompactAtMostAfterAppends || ((appends >= CompactAfterAppends || bytes >= CompactAfterBytes) && bytes >= mergedBytes);

    /// <summary>Only while this replica holds the journal, and cut short when it stops holding it (see the lock part).</summary>
    /// <remarks>One at a time: appends that find the tail worth merging while a merge is queued or running add none.</remarks>
    private void CompactInBackground()
    {
        if (Interlocked.Exchange(ref _compactionQueued, 1) == 1) return;
        // The term it was asked in: one that starts late, after a release or in a later term, does nothing.
        var (lease, term) = (_lease, _term);
        _ = Task.Run(async () =>
        {
            try
            {
                if (lease is { IsCancellationRequested: false }) await CompactAsync(load: false, lease.Token, term);
            }
            catch (Exception ex)
            {
                Log.JournalNotCompacted(logger, Queue, ex.Message);
                // Not again at the next append (each attempt holds appends up): once as much again is appended.
                Interlocked.Exchange(ref _appends, 0);
                Interlocked.Exchange(ref _mergedBytes, Math.Max(Interlocked.Read(ref _mergedBytes), 2 * Interlocked.Read(ref _bytes)));
            }
            finally
            {
                Volatile.Write(ref _compactionQueued, 0);
            }
        }, CancellationToken.None);
    }

    /// <summary>
    /// Reads every record present, republishes their merge, then deletes what it read. With <paramref name="load"/>
    /// it parses them all, starts this replica's term and returns the state; else it merges the image.
    /// </summary>
    private async Task<JournalState> CompactAsync(bool load, CancellationToken ct, long term = 0)
    {
        await _compacting.WaitAsync(ct);
        try
        {
            // Its image went with the term (released, or not loaded yet in the next): nothing of it is in memory.
            if (!load && (_ownId.Length == 0 || _term != term)) return new JournalState();
            await using var channel = await ReadingChannelAsync(ct);
            // Every record up to a fence of its own: a message count can fall short (a quorum queue's, just after its
            // leader moved, did: the newest records stayed unread and the term started without them, rows = older values).
            var fence = Guid.NewGuid().ToString("N");
            await PublishAsync(channel, JournalRecordFormat.Marker("fence", 0, fence), ct, fence);
            var state = new JournalState();
            ulong fenceTag = 0;
            var (read, unreadable) = (0, 0);
            var foreign = new List<JournalEntry>();
            var deadline = DateTime.UtcNow + FenceWait;
            while (fenceTag == 0)
            {
                if (await channel.BasicGetAsync(Queue, autoAck: false, ct) is not { } got)
                {
                    // Confirmed, so it is there: a queue whose leader just moved may not deliver it at once.
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"the journal's fence record did not come back within {FenceWait.TotalSeconds:0} s");
                    await Task.Delay(50, ct);
                    continue;
                }

                if (got.BasicProperties.MessageId == fence)
                {
                    fenceTag = got.DeliveryTag;
                    continue;
                }

                read++;
                // Written by this holder this term, so in the image already.
                if (!load && got.BasicProperties.AppId == _ownId) continue;
                var parsed = JournalRecordFormat.Read(got.Body.Span);
                if (parsed is { Kind: "fence" })
                {
                    read--; // another's, from a compaction cut short: dropped with the rest, and no record of a holder
                    continue;
                }

                if (parsed is not { } record)
                {
                    // Not lost with the compaction: set aside whole, for an operator (a newer version's record, a stray publish).
                    unreadable++;
                    await channel.BasicPublishAsync("", UnreadableQueue, mandatory: false, new BasicProperties { Persistent = true, ContentType = got.BasicProperties.ContentType },
                        got.Body, ct);
                    continue;
                }

                if (load) Fold(state, record);
                else FoldForeign(record, foreign);
            }

            await (ReadForTests?.Invoke() ?? Task.CompletedTask);
            if (load)
            {
                // An empty journal: nobody held it before, so no write of a previous holder can be in flight.
                if (read == 0) state.CleanlyReleased = true;
                _term = state.Term + 1;
                _ownId = $"{_instance}/{_term}";
                _image = new JournalImage();
                foreach (var entry in state.Entries()) _image.Add(entry, _rows.Write(entry), own: true, _rows);
            }

            // Another holder's rows go in only with this compaction: one that fails reads them again the next time.
            var image = foreign.Count == 0 ? _image : Copy(_image, foreign);
            image.Collapse(_rows);

            var written = 0;
            long merged = 0;
            foreach (var record in JournalRecordFormat.Records(image.Records(), _recordBuffer))
            {
                merged += await PublishAsync(channel, record, ct);
                written++;
            }

            // The last holder's term, and whether it let go cleanly, survive the compaction; then this term's start.
            if (load) await PublishAsync(channel, JournalRecordFormat.Marker(state.CleanlyReleased ? "released" : "acquired", state.Term, "compaction"), ct);
            await PublishAsync(channel, JournalRecordFormat.Marker("acquired", _term, load ? _replica : "compaction"), ct);
            await channel.BasicAckAsync(fenceTag, multiple: true, ct);
            _image = image;
            Interlocked.Exchange(ref _bytes, 0);
            Interlocked.Exchange(ref _appends, 0);
            Interlocked.Exchange(ref _mergedBytes, merged);
            if (load) Log.JournalLoaded(logger, _image.Rows - _image.Tombstones, _image.Tombstones, read, Queue, written, unreadable);
            else Log.JournalCompacted(logger, Queue, read, written, _image.Rows, unreadable);
            return state;
        }
        finally
        {
            _compacting.Release();
        }
    }

    private static void Fold(JournalState state, JournalRecordFormat.Record record)
    {
        switch (record.Kind)
        {
            case "rows":
                foreach (var row in record.Rows ?? []) state.Merge(row.ToEntry());
                break;
            case "acquired":
                state.Term = Math.Max(state.Term, record.Term);
                state.CleanlyReleased = false;
                break;
            case "released":
                // Only the last holder's own release counts: one published after a successor took the lock does not.
                state.CleanlyReleased = record.Term >= state.Term;
                state.Term = Math.Max(state.Term, record.Term);
                break;
        }
    }

    /// <summary>Another holder's record, found by a background compaction: its rows are kept; a newer term ends this one's.</summary>
    private void FoldForeign(JournalRecordFormat.Record record, List<JournalEntry> foreign)
    {
        if (record.Kind is "acquired" or "released" && record.Term > _term)
            throw new InvalidOperationException($"another replica holds the journal (term {record.Term}, this replica's {_term})");
        foreign.AddRange((record.Rows ?? []).Select(r => r.ToEntry()));
    }

    /// <summary>The image with another holder's rows added, leaving the image itself as it was.</summary>
    private JournalImage Copy(JournalImage image, List<JournalEntry> foreign)
    {
        var copy = image.Clone();
        foreach (var entry in foreign) copy.Add(entry, _rows.Write(entry), own: false, _rows);
        return copy;
    }
}
