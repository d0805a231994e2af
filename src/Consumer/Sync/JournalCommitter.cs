using System.Threading.Channels;

namespace FlashdutySync.Sync;

/// <summary>
/// Group commit of the row journal for one term: every batch that has applied its events asks for a commit and is
/// answered once a record holding its rows is confirmed by the broker (then its events may be acknowledged).
/// Batches that ask while a record is being appended share the next one: one publish per round, whatever the
/// number of batches in hand. Rows changed by the writers (a write landed, a row refused) ride along.
/// </summary>
internal sealed class JournalCommitter(IRowJournal journal, Func<IEnumerable<SchemaSync>> schemas, ILogger logger, TimeProvider time, TimeSpan retry)
{
    // Longer than a large record takes; a publish whose confirm never comes (the broker restarted under it) is retried.
    private static readonly TimeSpan AppendLimit = TimeSpan.FromSeconds(20);
    private readonly Channel<bool> _doorbell = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly object _sync = new();
    // One round at a time: a flush racing a round could answer a group before the round holding its rows was confirmed.
    private readonly SemaphoreSlim _round = new(1, 1);
    private TaskCompletionSource<bool> _next = NewGroup();
    private bool _ended;
    private volatile Failure? _failing;

    /// <summary>Why appends fail and since when; null once one succeeds (see <see cref="MappingEngine.NotReadyReason"/>).</summary>
    public Failure? Failing => _failing;

    public sealed record Failure(string Problem, DateTimeOffset Since);

    /// <summary>True once everything applied before the call is durable; false when the term ended first.</summary>
    public Task<bool> CommitAsync(CancellationToken ct)
    {
        Task<bool> group;
        lock (_sync)
        {
            if (_ended) return Task.FromResult(false);
            group = _next.Task;
        }

        Ring();
        return group.WaitAsync(ct);
    }

    public void Ring() => _doorbell.Writer.TryWrite(true);

    /// <summary>Appends until the term ends (<paramref name="term"/>); a last round flushes what is left when it ends cleanly.</summary>
    public async Task RunAsync(CancellationToken term)
    {
        try
        {
            while (await _doorbell.Reader.WaitToReadAsync(term).ConfigureAwait(false))
            {
                _doorbell.Reader.TryRead(out _);
                try
                {
                    await RoundAsync(term).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !term.IsCancellationRequested)
                {
                    // Whatever went wrong, the committer goes on: batches waiting on it must not be answered "ended"
                    // while the term lives (they would apply again at once, for ever).
                    Log.JournalAppendFailed(logger, ex.Message, retry);
                    await Task.Delay(retry, time, term).ConfigureAwait(false);
                    Ring();
                }
            }
        }
        catch (OperationCanceledException) when (term.IsCancellationRequested)
        {
        }
        finally
        {
            End();
        }
    }

    /// <summary>The term is ending cleanly: one last round for what batches have applied, then no more.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        await RoundAsync(ct).ConfigureAwait(false);
        End();
    }

    private async Task RoundAsync(CancellationToken ct)
    {
        await _round.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await OneRoundAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _round.Release();
        }
    }

    private async Task OneRoundAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> group;
        lock (_sync)
        {
            if (_ended) return;
            (group, _next) = (_next, NewGroup());
        }

        try
        {
            while (true)
            {
                var taken = new List<(SchemaSync Schema, IReadOnlyList<JournalEntry> Entries)>();
                try
                {
                    // Inside the try: entries taken from earlier schemas go back if a later one throws.
                    foreach (var schema in schemas())
                    {
                        var entries = schema.TakeJournalEntries();
                        if (entries.Count > 0) taken.Add((schema, entries));
                    }

                    // The limit on this clock, and awaited here too: an append that ignores its token (a confirm that never
                    // comes on a connection the client has not noticed is gone) still fails the round after it, and says so
                    // (readiness). Its entries go back; should it land after all, they are appended again (merged as one).
                    using var timeout = new CancellationTokenSource(AppendLimit, time);
                    using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
                    await journal.AppendAsync([.. taken.SelectMany(t => t.Entries)], limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
                    _failing = null;
                    group.TrySetResult(true);
                    return;
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    foreach (var (schema, entries) in taken) schema.ReturnJournalEntries(entries);
                    var problem = Describe(ex);
                    _failing = new Failure(problem, _failing?.Since ?? time.GetUtcNow());
                    Log.JournalAppendFailed(logger, problem, retry);
                    await Task.Delay(retry, time, ct).ConfigureAwait(false);
                }
                catch
                {
                    // The term ended under the append: not known to be durable.
                    foreach (var (schema, entries) in taken) schema.ReturnJournalEntries(entries);
                    throw;
                }
            }
        }
        finally
        {
            if (!group.Task.IsCompleted) Unconfirmed(group, ct);
        }
    }

    /// <summary>What an operator reads of a failed append (log, readiness).</summary>
    /// <remarks>
    /// Out of memory is not the broker's fault and does not pass by itself: the rows changed and not yet written (each
    /// with its events' copies) outgrew the heap. Said with what to do, not as the runtime's "insufficient memory".
    /// </remarks>
    private static string Describe(Exception ex) => ex switch
    {
        OutOfMemoryException => $"out of memory: the {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20} MB the GC may use are too few for the rows " +
                                "changed and not yet written; raise the memory limit (allow ~2 KB of heap per such row, on top of the window: README, " +
                                "\"Sizing memory\")",
        OperationCanceledException => $"no confirm within {AppendLimit.TotalSeconds:0} s",
        _ => ex.Message,
    };

    /// <summary>A round ends without its record confirmed.</summary>
    /// <remarks>
    /// The term ended (during the append, or during the pause after a failed one): its batches hear false and apply
    /// again in the next term. A group left unanswered held its batches, and their events unacknowledged, for ever:
    /// their rows kept older values, and MassTransit, waiting for them to stop its consumer, never reconnected after its
    /// node went (#15). Anything else while the term lives: the batches wait for the next round (false would have them
    /// apply again at once, in the same term).
    /// </remarks>
    private void Unconfirmed(TaskCompletionSource<bool> group, CancellationToken ct)
    {
        Task<bool> next;
        lock (_sync)
        {
            if (ct.IsCancellationRequested || _ended)
            {
                group.TrySetResult(false);
                return;
            }

            next = _next.Task;
        }

        _ = next.ContinueWith(t => group.TrySetResult(t.IsCompletedSuccessfully && t.Result), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void End()
    {
        lock (_sync)
        {
            _ended = true;
            _next.TrySetResult(false);
        }
    }

    private static TaskCompletionSource<bool> NewGroup() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
