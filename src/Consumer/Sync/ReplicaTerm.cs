namespace FlashdutySync.Sync;

/// <summary>
/// One term of this replica as the journal's holder: from the moment it acquired the journal to the moment it lets go
/// (stopping) or loses it (the broker closed its lock). Holds the term's schemas, their writers and the group commit.
/// Nothing outlives it: a new term starts again from the journal and Flashduty's rows.
/// </summary>
internal sealed class ReplicaTerm(long number, long sequence, JournalState journal, CancellationToken lease)
{
    private readonly CancellationTokenSource _ended = CancellationTokenSource.CreateLinkedTokenSource(lease);
    private readonly List<Task> _tasks = [];

    /// <summary>The term's number in the journal (one more than the previous holder's).</summary>
    public long Number { get; } = number;

    /// <summary>Tells this process's terms apart, whatever the journal says: a batch applies and commits in one term.</summary>
    public long Sequence { get; } = sequence;

    /// <summary>The journal as read at the start of the term, for schemas that load later in it.</summary>
    public JournalState Journal { get; } = journal;

    /// <summary>Cancelled when the term ends: its writers' requests are aborted, its commits answer false.</summary>
    public CancellationToken Ended => _ended.Token;

    public CancellationToken Lease { get; } = lease;

    public JournalCommitter? Committer { get; set; }

    /// <summary>No new event is applied, no schema joins: the term is ending. Set under the engine's term lock.</summary>
    public volatile bool Closing;

    /// <summary>Before this, no write: the previous holder may still have one in flight.</summary>
    public DateTimeOffset NotBefore { get; set; }

    /// <summary>The schemas started in this term. Guarded by the engine's term lock.</summary>
    public List<SchemaSync> Schemas { get; } = [];

    public List<SchemaSync> SchemasNow(object termLock)
    {
        lock (termLock) return [.. Schemas];
    }

    /// <summary>The slot's schema is loaded in this term.</summary>
    public bool Holds(SchemaSlot slot, object termLock)
    {
        lock (termLock) return slot.Sync is { } sync && Schemas.Contains(sync);
    }

    public void Track(Task task)
    {
        lock (_tasks) _tasks.Add(task);
    }

    public Task[] Tasks()
    {
        lock (_tasks) return [.. _tasks];
    }

    public Task EndAsync() => _ended.CancelAsync();
}
