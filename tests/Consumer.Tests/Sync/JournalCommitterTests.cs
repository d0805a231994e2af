using FlashdutySync.Sync;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>Group commit of the row journal: batches share appends, a failed append keeps them waiting, an ended term answers false.</summary>
public sealed class JournalCommitterTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private sealed class GatedJournal : IRowJournal
    {
        public TaskCompletionSource Gate { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int FailNext { get; set; }
        public List<IReadOnlyList<JournalEntry>> Appends { get; } = [];
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.Zero;

        public Task<CancellationToken> AcquireAsync(CancellationToken ct) => Task.FromResult(CancellationToken.None);
        public Task<JournalState> LoadAsync(CancellationToken ct) => Task.FromResult(new JournalState());
        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct) => Task.CompletedTask;

        public async Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
        {
            await Gate.Task.WaitAsync(ct);
            if (FailNext-- > 0) throw new IOException("broker gone");
            lock (Appends) Appends.Add(entries);
        }
    }

    /// <summary>The commit's answer, the clock moved on a second at a time (the retry pause) until it comes.</summary>
    private static async Task<bool> RetriedOnTheClock(Task<bool> commit, FakeTimeProvider time)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!commit.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(commit, Task.Delay(20));
        }

        return await commit.WaitAsync(Deadline);
    }

    // No writer: only what the journal sees of it matters here.
    private static SchemaSync Schema(FakeMappingApi api) =>
        new(new SchemaDefinition("665f1a2b3c4d5e6f7a8b9c01", "s", ["host"], ["owner", "team"], RowCap: 5000), api, new SyncOptions(), new InflowTracker(10),
            DiscardRefusedEvents.Instance,
            new FlashdutySync.Telemetry.SyncMetrics(new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddMetrics().BuildServiceProvider()
                .GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), NullLogger.Instance, new FakeTimeProvider());

    [Fact]
    public async Task BatchesAskingWhileAnAppendIsInFlight_ShareTheNextOne_AndEachIsAnsweredOnlyOnceItsRowsAreIn()
    {
        var api = new FakeMappingApi();
        var schema = Schema(api);
        var journal = new GatedJournal();
        var time = new FakeTimeProvider();
        var committer = new JournalCommitter(journal, () => [schema], NullLogger.Instance, time, TimeSpan.FromSeconds(1));
        using var term = new CancellationTokenSource();
        var loop = Task.Run(() => committer.RunAsync(term.Token));

        _ = schema.Apply(SchemaSyncUnderTest.Event(EventKind.HostProvisioned, SchemaSyncUnderTest.T0, ("host", "a"), ("owner", "o"), ("team", "t")), default);
        var first = committer.CommitAsync(CancellationToken.None);
        await Support.Eventually.UntilAsync(() => schema.UnjournaledRows == 0, Deadline, "the first append to take its rows");
        // 50 batches apply while the first append waits for its confirm.
        var later = Enumerable.Range(0, 50).Select(i =>
        {
            schema.Apply(SchemaSyncUnderTest.Event(EventKind.HostProvisioned, SchemaSyncUnderTest.T0, ("host", $"b{i}"), ("owner", "o"), ("team", "t")), default);
            return committer.CommitAsync(CancellationToken.None);
        }).ToList();
        Assert.False(first.IsCompleted);
        Assert.All(later, t => Assert.False(t.IsCompleted));

        journal.Gate.SetResult();
        Assert.True(await first.WaitAsync(Deadline));
        Assert.All(await Task.WhenAll(later).WaitAsync(Deadline), Assert.True);
        Assert.Equal(2, journal.Appends.Count); // one for the first batch, one shared by the 50
        Assert.Equal(50, journal.Appends[1].Count);
        await term.CancelAsync();
        await loop.WaitAsync(Deadline);
    }

    [Fact]
    public async Task FailedAppend_KeepsTheBatchWaiting_AndTheRowsGoInTheRetry_EndedTermAnswersFalse()
    {
        var api = new FakeMappingApi();
        var schema = Schema(api);
        var journal = new GatedJournal { FailNext = 1 };
        journal.Gate.SetResult();
        var time = new FakeTimeProvider();
        var committer = new JournalCommitter(journal, () => [schema], NullLogger.Instance, time, TimeSpan.FromSeconds(1));
        using var term = new CancellationTokenSource();
        var loop = Task.Run(() => committer.RunAsync(term.Token));

        _ = schema.Apply(SchemaSyncUnderTest.Event(EventKind.HostProvisioned, SchemaSyncUnderTest.T0, ("host", "a"), ("owner", "o"), ("team", "t")), default);
        var commit = committer.CommitAsync(CancellationToken.None);
        await Support.Eventually.UntilAsync(() => journal.FailNext < 0 || schema.UnjournaledRows == 1, Deadline, "the failed append to give its rows back");
        Assert.False(commit.IsCompleted, "not durable: the batch's events may not be acknowledged");
        // Tried again after the retry interval, on the clock.
        Assert.True(await RetriedOnTheClock(commit, time));
        Assert.Equal("a", Assert.Single(Assert.Single(journal.Appends)).Key);

        await term.CancelAsync();
        await loop.WaitAsync(Deadline);
        Assert.False(await committer.CommitAsync(CancellationToken.None).WaitAsync(Deadline));
    }

    [Fact]
    public async Task FailedAppend_TermEndsDuringTheRetryPause_TheWaitingBatchIsAnsweredFalse_NotLeftWaitingForEver()
    {
        // Given an append that failed (its node went) and a committer waiting out the retry pause
        var api = new FakeMappingApi();
        var schema = Schema(api);
        var journal = new GatedJournal { FailNext = 1 };
        journal.Gate.SetResult();
        var time = new FakeTimeProvider();
        var committer = new JournalCommitter(journal, () => [schema], NullLogger.Instance, time, TimeSpan.FromSeconds(1));
        using var term = new CancellationTokenSource();
        var loop = Task.Run(() => committer.RunAsync(term.Token));
        _ = schema.Apply(SchemaSyncUnderTest.Event(EventKind.HostProvisioned, SchemaSyncUnderTest.T0, ("host", "a"), ("owner", "o"), ("team", "t")), default);
        var commit = committer.CommitAsync(CancellationToken.None);
        await Support.Eventually.UntilAsync(() => journal.FailNext == 0 && schema.UnjournaledRows == 1, Deadline, "the failed append to give its rows back");

        // When the term ends (the journal's lock went with the same node) before the pause is over
        await term.CancelAsync();

        // Then the batch hears that its events are not journaled (it applies them again in the next term): a batch left
        // waiting holds its events unacknowledged for ever, and MassTransit's consumer never stops to reconnect (#15)
        Assert.False(await commit.WaitAsync(Deadline));
        await loop.WaitAsync(Deadline);
        Assert.Empty(journal.Appends);
    }

    [Fact]
    public async Task ARoundThatFailsOtherwiseThanByItsAppend_WhileTheTermLives_CarriesItsBatchToTheNextRound_NotFalse()
    {
        // Given a committer whose list of schemas throws once (anything but the append going wrong)
        var api = new FakeMappingApi();
        var schema = Schema(api);
        var journal = new GatedJournal();
        journal.Gate.SetResult();
        var time = new FakeTimeProvider();
        var throwOnce = 1;
        IEnumerable<SchemaSync> Schemas() => Interlocked.Decrement(ref throwOnce) == 0 ? throw new InvalidOperationException("a schema list in flux") : [schema];
        var committer = new JournalCommitter(journal, Schemas, NullLogger.Instance, time, TimeSpan.FromSeconds(1));
        using var term = new CancellationTokenSource();
        var loop = Task.Run(() => committer.RunAsync(term.Token));
        _ = schema.Apply(SchemaSyncUnderTest.Event(EventKind.HostProvisioned, SchemaSyncUnderTest.T0, ("host", "a"), ("owner", "o"), ("team", "t")), default);

        // When a batch asks for a commit and the first round fails
        var commit = committer.CommitAsync(CancellationToken.None);
        await Support.Eventually.UntilAsync(() => Volatile.Read(ref throwOnce) <= 0, Deadline, "the first round to fail");

        // Then it is not told "not journaled" (it would apply again in the same term, at once): the next round
        // journals its rows and answers true
        Assert.True(await RetriedOnTheClock(commit, time));
        Assert.Equal("a", Assert.Single(Assert.Single(journal.Appends)).Key);
        await term.CancelAsync();
        await loop.WaitAsync(Deadline);
    }
}
