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
/// Compaction (see its part) runs at each load and in the background once enough has been appended since.
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
    // Where records are written before they are published: appends and compactions, one at a time (under _compacting).
    private readonly System.Buffers.ArrayBufferWriter<byte> _recordBuffer = new(64 * 1024);
    private readonly ConfirmingChannel _broker = new(rabbit.Value, "flashduty-mapping-sync journal", async (channel, ct) =>
    {
        await channel.QueueDeclareAsync(rabbit.Value.JournalQueue, durable: true, exclusive: false, autoDelete: false, rabbit.Value.QueueArguments(), cancellationToken: ct);
        await channel.QueueDeclareAsync(rabbit.Value.JournalUnreadableQueue, durable: true, exclusive: false, autoDelete: false, rabbit.Value.QueueArguments(),
            cancellationToken: ct);
    });
    private readonly string _replica = Environment.MachineName;
    private IConnection? _lock;
    private CancellationTokenSource? _lease;
    private int _lockConnections;

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

    /// <remarks>
    /// Its compaction starts this replica's term with an <c>acquired</c> record: until it releases cleanly, its successor
    /// waits out a write it may have in flight.
    /// </remarks>
    public Task<JournalState> LoadAsync(CancellationToken ct) => CompactAsync(load: true, ct);

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
            var rows = new byte[entries.Count][];
            for (var i = 0; i < entries.Count; i++) rows[i] = _rows.Write(entries[i]);
            foreach (var record in JournalRecordFormat.Records(rows, _recordBuffer)) size += await PublishAsync(channel, record, ct);
            // Confirmed: part of the image now (a failed append's entries come again in a later one).
            for (var i = 0; i < entries.Count; i++) _image.Add(entries[i], rows[i], own: true, _rows);
        }
        finally
        {
            _compacting.Release();
        }

        var appends = Interlocked.Increment(ref _appends);
        var bytes = Interlocked.Add(ref _bytes, size);
        if (WorthCompacting(appends, bytes, Interlocked.Read(ref _mergedBytes))) CompactInBackground();
    }

    private async Task<int> PublishAsync(IChannel channel, ReadOnlyMemory<byte> body, CancellationToken ct, string? messageId = null)
    {
        var properties = new BasicProperties { ContentType = "application/json", Persistent = true, AppId = _ownId, MessageId = messageId };
        await channel.BasicPublishAsync("", Queue, mandatory: false, properties, body, ct);
        return body.Length;
    }

    public async ValueTask DisposeAsync()
    {
        if (_lock is not null) await CloseQuietlyAsync(_lock);
        await _broker.DisposeAsync();
    }
}
