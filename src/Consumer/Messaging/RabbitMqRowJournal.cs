using FlashdutySync.Sync;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// The row journal (<see cref="IRowJournal"/>) in RabbitMQ, the one store the service already depends on: a durable
/// queue (<c>&lt;queue&gt;_journal</c>) of records, appended with publisher confirms, and an empty queue
/// (<c>&lt;queue&gt;_lock</c>) whose exclusive consumer is the replica that holds the journal.
/// </summary>
/// <remarks>
/// Compaction reads every record present (holding them unacknowledged for the moment it takes), publishes their merge
/// as a few large records, and only then acknowledges (deletes) what it read: a crash in between leaves both copies,
/// and merging is idempotent (newest label time wins, event copies by identity). It runs at each load and in the
/// background once enough has been appended since. Records appended meanwhile are neither read nor deleted by it.
/// </remarks>
internal sealed partial class RabbitMqRowJournal(IOptions<RabbitMqOptions> rabbit, ILogger<RabbitMqRowJournal> logger) : IRowJournal, IAsyncDisposable
{
    // Compaction rewrites every row and holds appends up meanwhile (a full sync's 200,000 rows: seconds), so it waits
    // until the tail is worth it: at least the last merge's size (total work stays proportional to what is appended;
    // compacting after every 16 MB merged one sync's rows eight times over), and 256 records or 64 MB; the tail never
    // passes 8,192 records (a load reads them one by one).
    private const int CompactAfterAppends = 256;
    private const int CompactAtMostAfterAppends = 8192;
    private const long CompactAfterBytes = 64 << 20;
    private static readonly TimeSpan LockRetry = TimeSpan.FromSeconds(1);
    // A holder cut off from the broker loses the lock (and stops writing) within about two of these.
    private static readonly TimeSpan LockHeartbeat = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _compacting = new(1, 1);
    private readonly ConfirmingChannel _broker = new(rabbit.Value, "flashduty-mapping-sync journal", async (channel, ct) =>
    {
        await channel.QueueDeclareAsync(rabbit.Value.JournalQueue, durable: true, exclusive: false, autoDelete: false, rabbit.Value.QueueArguments(), cancellationToken: ct);
        await channel.QueueDeclareAsync(rabbit.Value.JournalUnreadableQueue, durable: true, exclusive: false, autoDelete: false, rabbit.Value.QueueArguments(),
            cancellationToken: ct);
    });
    private readonly string _replica = Environment.MachineName;
    private IConnection? _lock;
    private CancellationTokenSource? _lease;

    public TimeSpan LossDetection => 3 * LockHeartbeat;
    // The tail since the last merge, the merge's size, and whether a background compaction is queued or running.
    private int _appends;
    private long _bytes;
    private long _mergedBytes;
    private int _compactionQueued;
    private long _term;

    private static readonly TimeSpan HandoverRequestEvery = TimeSpan.FromSeconds(5);
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private DateTimeOffset _lastRequest;

    private static readonly TimeSpan FenceWait = TimeSpan.FromSeconds(30);

    private string Queue => rabbit.Value.JournalQueue;

    private string UnreadableQueue => rabbit.Value.JournalUnreadableQueue;

    public bool HandoverWanted { get; set; }

    public Action? HandoverRequested { get; set; }

    public async Task<JournalState> LoadAsync(CancellationToken ct)
    {
        var state = await CompactAsync(ct);
        // A record of this term: until this replica releases cleanly, its successor waits out a write it may have in flight.
        _term = state.Term + 1;
        await PublishAsync(await _broker.GetAsync(ct), JournalRecordFormat.Marker("acquired", _term, _replica), ct);
        return state;
    }

    public async Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0) return;
        var size = 0;
        // Not while a compaction reads and republishes: a record appended meanwhile would sit before the merge that
        // it should follow (a written row's record dropping copies, then the merge bringing them back).
        await _compacting.WaitAsync(ct);
        try
        {
            var channel = await _broker.GetAsync(ct);
            foreach (var record in JournalRecordFormat.RowRecords(entries)) size += await PublishAsync(channel, record, ct);
        }
        finally
        {
            _compacting.Release();
        }

        var appends = Interlocked.Increment(ref _appends);
        var bytes = Interlocked.Add(ref _bytes, size);
        if (WorthCompacting(appends, bytes, Interlocked.Read(ref _mergedBytes))) CompactInBackground();
    }

    /// <summary>Whether a tail of <paramref name="appends"/> records and <paramref name="bytes"/> is worth merging into the last merge.</summary>
    internal static bool WorthCompacting(int appends, long bytes, long mergedBytes) =>
        appends >= CompactAtMostAfterAppends || ((appends >= CompactAfterAppends || bytes >= CompactAfterBytes) && bytes >= mergedBytes);

    /// <summary>Only while this replica holds the journal, and cut short when it stops holding it (see the lock part).</summary>
    /// <remarks>One at a time: appends that find the tail worth merging while a merge is queued or running add none.</remarks>
    private void CompactInBackground()
    {
        if (Interlocked.Exchange(ref _compactionQueued, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try
            {
                if (_lease is { IsCancellationRequested: false } lease) await CompactAsync(lease.Token);
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

    /// <summary>Reads and merges every record present, republishes the merge, then deletes what it read.</summary>
    private async Task<JournalState> CompactAsync(CancellationToken ct)
    {
        await _compacting.WaitAsync(ct);
        try
        {
            await using var channel = await _broker.OpenExtraAsync(ct); // the queue is declared by then
            // Every record up to a fence of its own: a message count can fall short (a quorum queue's, just after its
            // leader moved, did: the newest records stayed unread and the term started without them, rows = older values).
            var fence = Guid.NewGuid().ToString("N");
            await PublishAsync(channel, JournalRecordFormat.Marker("fence", 0, fence), ct);
            var state = new JournalState();
            ulong lastTag = 0;
            ulong fenceTag = 0;
            var read = 0;
            var unreadable = 0;
            var staleFences = 0;
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

                var parsed = JournalRecordFormat.Read(got.Body.Span);
                if (parsed is { Kind: "fence" })
                {
                    // Ours ends the read; another's (a compaction cut short) is dropped with the rest.
                    if (parsed.By == fence) fenceTag = got.DeliveryTag;
                    else staleFences++;
                    continue;
                }

                lastTag = got.DeliveryTag;
                read++;
                if (parsed is not { } record)
                {
                    // Not lost with the compaction: set aside whole, for an operator (a newer version's record, a stray publish).
                    unreadable++;
                    await channel.BasicPublishAsync("", UnreadableQueue, mandatory: false, new BasicProperties { Persistent = true, ContentType = got.BasicProperties.ContentType },
                        got.Body, ct);
                    continue;
                }

                Fold(state, record);
            }

            // An empty journal: nobody held it before, so no write of a previous holder can be in flight.
            if (read == 0) state.CleanlyReleased = true;
            var written = 0;
            if (read == 1 && unreadable == 0 && staleFences == 0)
            {
                // One record: kept as it is, only the fence goes.
                await channel.BasicNackAsync(lastTag, multiple: false, requeue: true, ct);
                await channel.BasicAckAsync(fenceTag, multiple: false, ct);
                written = 1;
            }
            else if (read > unreadable)
            {
                long merged = 0;
                foreach (var record in JournalRecordFormat.RowRecords(state.Entries()))
                {
                    merged += await PublishAsync(channel, record, ct);
                    written++;
                }

                // The last holder's term, and whether it let go cleanly, survive the compaction.
                await PublishAsync(channel, JournalRecordFormat.Marker(state.CleanlyReleased ? "released" : "acquired", state.Term, "compaction"), ct);
                await channel.BasicAckAsync(fenceTag, multiple: true, ct);
                Interlocked.Exchange(ref _bytes, 0);
                Interlocked.Exchange(ref _appends, 0);
                Interlocked.Exchange(ref _mergedBytes, merged);
            }
            else
            {
                await channel.BasicAckAsync(fenceTag, multiple: true, ct); // the fence, and what was moved to the unreadable queue
            }

            Log.JournalLoaded(logger, state.Schemas.Sum(s => s.Value.Count), read, Queue, written, unreadable);
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

    private async Task<int> PublishAsync(IChannel channel, byte[] body, CancellationToken ct)
    {
        await channel.BasicPublishAsync("", Queue, mandatory: false, new BasicProperties { ContentType = "application/json", Persistent = true }, body, ct);
        return body.Length;
    }

    public async ValueTask DisposeAsync()
    {
        if (_lock is not null) await CloseQuietlyAsync(_lock);
        await _broker.DisposeAsync();
    }
}
