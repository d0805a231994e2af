using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>
/// How a term ends when the service stops or the lock goes at awkward moments (while the term starts, within its wait
/// for a predecessor that did not let go), and a journal that cannot be appended to: what the next holder finds, and
/// what readiness says.
/// </summary>
public sealed class MappingEngineTermEndTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static MappingEngine Engine(FakeMappingApi api, IRowJournal journal, TimeProvider time)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        return new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(new SyncOptions()),
            new InflowTracker(10), journal, DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
    }

    /// <summary>A journal whose appends throw <see cref="Failure"/> while it is set.</summary>
    private sealed class FailingAppendJournal : IRowJournal
    {
        private readonly InMemoryRowJournal _inner = new();
        public Func<Exception>? Failure { get; set; }
        public int Failed { get; private set; }
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.Zero;
        public Task<CancellationToken> AcquireAsync(CancellationToken ct) => _inner.AcquireAsync(ct);
        public Task<JournalState> LoadAsync(CancellationToken ct) => _inner.LoadAsync(ct);
        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct) => _inner.ReleaseAsync(lease, clean, ct);

        public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
        {
            if (Failure is not { } failure) return _inner.AppendAsync(entries, ct);
            Failed++;
            throw failure();
        }
    }

    /// <summary>A journal whose appends, while <see cref="Hang"/> is set, never end and ignore their token (a wedged connection).</summary>
    private sealed class HangingAppendJournal : IRowJournal
    {
        private readonly InMemoryRowJournal _inner = new();
        public InMemoryRowJournal Inner => _inner;
        public volatile bool Hang = true;
        public int Hung;
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.Zero;
        public Task<CancellationToken> AcquireAsync(CancellationToken ct) => _inner.AcquireAsync(ct);
        public Task<JournalState> LoadAsync(CancellationToken ct) => _inner.LoadAsync(ct);
        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct) => _inner.ReleaseAsync(lease, clean, ct);

        public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
        {
            if (!Hang) return _inner.AppendAsync(entries, ct);
            Interlocked.Increment(ref Hung);
            return new TaskCompletionSource().Task;
        }
    }

    /// <summary>A journal whose loads wait until cancelled, and that records each release.</summary>
    private sealed class HangingLoadJournal : IRowJournal
    {
        private readonly InMemoryRowJournal _inner = new();
        public TaskCompletionSource Loading { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<bool> Releases { get; } = [];
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.Zero;
        public Task<CancellationToken> AcquireAsync(CancellationToken ct) => _inner.AcquireAsync(ct);
        public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct) => _inner.AppendAsync(entries, ct);

        public async Task<JournalState> LoadAsync(CancellationToken ct)
        {
            Loading.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            throw new UnreachableException();
        }

        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct)
        {
            lock (Releases) Releases.Add(clean);
            return Task.CompletedTask;
        }
    }

    /// <summary>A journal in memory whose holder takes <see cref="LossDetection"/> to notice a lost lock.</summary>
    private sealed class SlowToNoticeJournal : IRowJournal
    {
        public InMemoryRowJournal Inner { get; } = new();
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.FromSeconds(30);
        public Task<CancellationToken> AcquireAsync(CancellationToken ct) => Inner.AcquireAsync(ct);
        public Task<JournalState> LoadAsync(CancellationToken ct) => Inner.LoadAsync(ct);
        public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct) => Inner.AppendAsync(entries, ct);
        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct) => Inner.ReleaseAsync(lease, clean, ct);
    }

    /// <summary>
    /// A replica stopped while its term starts (journal loaded, Flashduty's rows being read again; nothing written):
    /// the term was published only once every schema had loaded, so the stop found no term to end, the journal was
    /// never released, and the next holder waited AttemptTimeout + LossDetection (35 s) before its first write (CI:
    /// QueueMigrationReviewTests timed out on it under load).
    /// </summary>
    [Fact]
    public async Task StoppedWhileTheTermStarts_BeforeAnyWrite_TheJournalIsReleasedCleanly()
    {
        // Given an activation that has loaded the journal and waits for Flashduty's rows
        var api = new FakeMappingApi();
        var journal = new InMemoryRowJournal();
        var engine = Engine(api, journal, new FakeTimeProvider(T0));
        await engine.StartAsync(CancellationToken.None);
        api.DownloadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        api.CancelledDownloadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var activation = engine.EnsureCurrentAsync(CancellationToken.None);
        await api.DownloadWaiting.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // When the service stops, and the read it cuts short takes its time to give up
        var quiesce = engine.QuiesceAsync(CancellationToken.None);
        await api.DownloadCancelSeen.Task.WaitAsync(TimeSpan.FromSeconds(5));
        api.CancelledDownloadGate.SetResult();
        await quiesce.WaitAsync(TimeSpan.FromSeconds(5));
        await engine.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        await Record.ExceptionAsync(() => activation);

        // Then the next holder finds the journal let go cleanly: no write of this replica can be in flight
        await journal.AcquireAsync(CancellationToken.None);
        Assert.True((await journal.LoadAsync(CancellationToken.None)).CleanlyReleased,
            "a replica stopped before its first write left the journal as if it had died mid-write: its successor waits 35 s");
    }

    /// <summary>
    /// A term whose predecessor did not let go cleanly waits AttemptTimeout + LossDetection before its first write: that
    /// predecessor's last request may still be in flight. Stopped within that wait, it released the journal "cleanly"
    /// (none of its own writes was in flight), and its successor wrote at once, while the request it had waited for could
    /// still land after.
    /// </summary>
    [Fact]
    public async Task StoppedWithinTheWaitForAPredecessorThatDidNotLetGo_TheJournalIsNotReleasedAsClean()
    {
        // Given a journal whose last holder did not let go (it died, or was cut off mid-write)
        var api = new FakeMappingApi();
        var journal = new InMemoryRowJournal();
        await journal.AcquireAsync(CancellationToken.None);
        await journal.LoadAsync(CancellationToken.None);
        var time = new FakeTimeProvider(T0);
        var engine = Engine(api, journal, time);
        await engine.StartAsync(CancellationToken.None);
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        // When this replica stops before that predecessor's longest request is over
        time.Advance(TimeSpan.FromSeconds(1));
        await engine.QuiesceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        await engine.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        // Then its successor still waits for it
        await journal.AcquireAsync(CancellationToken.None);
        Assert.False((await journal.LoadAsync(CancellationToken.None)).CleanlyReleased,
            "released as clean within the wait for a predecessor's request: the successor writes while that request may still land");
    }

    /// <summary>
    /// An append that never ends and ignores its token (a publisher confirm that never comes on a connection RabbitMQ.Client
    /// has not noticed is gone) held every batch, unacknowledged, for ever, with readiness green: the committer's time
    /// limit was only a token passed down, and nothing counted the round as failed.
    /// </summary>
    [Fact]
    public async Task AnAppendThatNeverEnds_CountsAsFailedAfterItsTimeLimit_TheServiceIsNotReady_AndTheNextRoundCommits()
    {
        // Given an active replica whose journal append hangs
        var api = new FakeMappingApi();
        var journal = new HangingAppendJournal();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(api, journal, time);
        await engine.StartAsync(CancellationToken.None);
        var term = await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        var provision = new InventoryEvent(EventKind.HostProvisioned, new Dictionary<string, string> { ["host"] = "a", ["owner"] = "alice", ["team"] = "sre" }, T0, null);
        Assert.NotEmpty(engine.Apply(provision, default(ActivityContext), inTerm: term));
        var commit = engine.CommitAsync(term, CancellationToken.None);
        await Support.Eventually.UntilAsync(() => Volatile.Read(ref journal.Hung) >= 1, TimeSpan.FromSeconds(5), "an append to start");

        // When the clock passes its time limit and the blip allowance
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.NotReadyReason is null && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }

        // Then the service is not ready, saying so, and the batch is not answered
        Assert.Contains("row journal cannot be appended to", engine.NotReadyReason);
        Assert.Contains("no confirm within 20 s", engine.NotReadyReason);
        Assert.False(commit.IsCompleted, "not durable: its events may not be acknowledged");

        // And once appends end again, a later round commits the batch and the service is ready
        journal.Hang = false;
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (!commit.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(commit, Task.Delay(10));
        }

        Assert.True(await commit.WaitAsync(TimeSpan.FromSeconds(1)));
        Assert.Null(engine.NotReadyReason);
        // The row the hung round had taken went back and was journaled by a later one.
        Assert.Equal("alice", (await journal.Inner.LoadAsync(CancellationToken.None)).For(Schema)["a"].Labels["owner"].Value);
        await engine.StopAsync(CancellationToken.None);
    }

    /// <summary>
    /// Appends to the journal that keep failing (the heap too small for the rows not yet written: the runtime's
    /// OutOfMemoryException on every append) held every batch, unacknowledged, for ever, while readiness stayed green and
    /// the log said "Insufficient memory to continue the execution of the program".
    /// </summary>
    [Fact]
    public async Task JournalAppendsFailingOutOfMemory_MakeTheServiceNotReady_SayingWhatToDo_UntilOneSucceeds()
    {
        // Given an active replica whose journal appends run out of memory
        var api = new FakeMappingApi();
        var journal = new FailingAppendJournal { Failure = () => new OutOfMemoryException() };
        var time = new FakeTimeProvider(T0);
        var engine = Engine(api, journal, time);
        await engine.StartAsync(CancellationToken.None);
        var term = await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        var commit = engine.CommitAsync(term, CancellationToken.None);
        await Support.Eventually.UntilAsync(() => journal.Failed >= 1, TimeSpan.FromSeconds(5), "an append to fail");
        Assert.Null(engine.NotReadyReason); // one failed round is a blip

        // When they keep failing for longer than a blip (retried every second, on the clock)
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (journal.Failed < 12 && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }

        // Then the service is not ready, and says why and what to do
        var reason = engine.NotReadyReason;
        Assert.NotNull(reason);
        Assert.Contains("row journal cannot be appended to", reason);
        Assert.Contains("out of memory", reason);
        Assert.Contains("raise the memory limit", reason);
        Assert.False(commit.IsCompleted, "not durable: its events may not be acknowledged");

        // And once an append succeeds, it is ready again and the batch is answered
        journal.Failure = null;
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (!commit.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(commit, Task.Delay(20));
        }

        Assert.True(await commit.WaitAsync(TimeSpan.FromSeconds(1)));
        Assert.Null(engine.NotReadyReason);
        await engine.StopAsync(CancellationToken.None);
    }

    /// <summary>A stop during the journal's load: the lock was held until the connection closed at dispose.</summary>
    [Fact]
    public async Task StoppedWhileTheJournalLoads_TheLockIsLetGoAtOnce_NotAsClean()
    {
        var api = new FakeMappingApi();
        var journal = new HangingLoadJournal();
        var engine = Engine(api, journal, new FakeTimeProvider(T0));
        await engine.StartAsync(CancellationToken.None);
        var activation = engine.EnsureCurrentAsync(CancellationToken.None);
        await journal.Loading.Task.WaitAsync(TimeSpan.FromSeconds(5));

        await engine.QuiesceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => activation);

        // Let go, and not as clean: the load may already have started this term in the journal
        lock (journal.Releases) Assert.Equal([false], journal.Releases);
        await engine.StopAsync(CancellationToken.None);
    }

    /// <summary>
    /// A term waiting out a predecessor (another process) that did not let go is demoted within that wait, and this
    /// replica takes the journal back at once: the load finds this replica's own term last, so the wait was only
    /// AttemptTimeout, and the first write could go out while the other process's request (and its LossDetection to
    /// notice it lost the lock) could still land.
    /// </summary>
    [Fact]
    public async Task TakenBackWithinItsWaitForAnotherProcess_TheNewTermWaitsAsLongAsTheOldOne()
    {
        // Given a term waiting AttemptTimeout + LossDetection for a holder that did not let go
        var api = new FakeMappingApi();
        var journal = new SlowToNoticeJournal();
        await journal.Inner.AcquireAsync(CancellationToken.None);
        await journal.Inner.LoadAsync(CancellationToken.None);
        var time = new FakeTimeProvider(T0);
        var engine = Engine(api, journal, time);
        await engine.StartAsync(CancellationToken.None);
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        var waitUntil = Assert.Single(engine.Schemas).NotBefore;
        Assert.Equal(T0 + new FlashdutyOptions().AttemptTimeout + journal.LossDetection, waitUntil);

        // When it loses the lock a second later and takes it again
        time.Advance(TimeSpan.FromSeconds(1));
        journal.Inner.Lose();
        await Support.Eventually.UntilAsync(() => engine.Schemas.Count == 0, TimeSpan.FromSeconds(5), "the demotion");
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        // Then its first write still waits for the other process
        Assert.True(Assert.Single(engine.Schemas).NotBefore >= waitUntil,
            $"first write not before {Assert.Single(engine.Schemas).NotBefore:O}, while the other process's request may land until {waitUntil:O}");
        await engine.StopAsync(CancellationToken.None);
    }
}
