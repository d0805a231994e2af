using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

public sealed class MappingEngineTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static MappingEngine Engine(FakeMappingApi api, TimeProvider time, SyncOptions sync)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        return new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(sync),
            new InflowTracker(10), new InMemoryRowJournal(), DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
    }

    /// <summary>A journal whose reads fail while <see cref="Failing"/> is set (the broker away).</summary>
    private sealed class FlakyJournal : IRowJournal
    {
        private readonly InMemoryRowJournal _inner = new();
        public bool Failing { get; set; } = true;
        public int Loads { get; private set; }
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.Zero;
        public Task<CancellationToken> AcquireAsync(CancellationToken ct) => _inner.AcquireAsync(ct);
        public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct) => _inner.AppendAsync(entries, ct);
        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct) => _inner.ReleaseAsync(lease, clean, ct);

        public Task<JournalState> LoadAsync(CancellationToken ct)
        {
            Loads++;
            return Failing ? throw new IOException("broker unreachable") : _inner.LoadAsync(ct);
        }
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

    /// <summary>A journal whose first load waits until the test lets it go, losing the lock meanwhile.</summary>
    private sealed class LockLostWhileLoadingJournal : IRowJournal
    {
        private readonly InMemoryRowJournal _inner = new();
        public TaskCompletionSource FirstLoadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource FirstLoadMayEnd { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool FirstLoadCutShort { get; private set; }
        public int Acquires { get; private set; }
        public int Loads { get; private set; }
        public bool HandoverWanted { get; set; }
        public Action? HandoverRequested { get; set; }
        public TimeSpan LossDetection => TimeSpan.Zero;

        public Task<CancellationToken> AcquireAsync(CancellationToken ct)
        {
            Acquires++;
            return _inner.AcquireAsync(ct);
        }

        public Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct) => _inner.AppendAsync(entries, ct);
        public Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct) => _inner.ReleaseAsync(lease, clean, ct);
        public void Lose() => _inner.Lose();

        public async Task<JournalState> LoadAsync(CancellationToken ct)
        {
            if (++Loads == 1)
            {
                FirstLoadStarted.SetResult();
                await FirstLoadMayEnd.Task;
                FirstLoadCutShort = ct.IsCancellationRequested;
                ct.ThrowIfCancellationRequested();
            }

            return await _inner.LoadAsync(ct);
        }
    }

    [Fact]
    public async Task LockLostWhileTheJournalLoads_TheLoadIsCutShort_AndTheLockIsTakenAgain_BeforeATermStarts()
    {
        // Given an activation whose journal load is under way
        var api = new FakeMappingApi();
        var journal = new LockLostWhileLoadingJournal();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var time = new FakeTimeProvider(T0);
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(new SyncOptions()),
            new InflowTracker(10), journal, DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
        await engine.StartAsync(CancellationToken.None);
        var activation = engine.EnsureCurrentAsync(CancellationToken.None);
        await journal.FirstLoadStarted.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // When the lock is lost before the load ends (another replica may hold it now, and compact under it)
        journal.Lose();
        journal.FirstLoadMayEnd.SetResult();

        // Then that load does not go on, and no term starts on the lost lock: the lock is taken again (after the
        // broker's retry pause, on the clock) and loaded again
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!activation.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(activation, Task.Delay(20));
        }

        var term = await activation.WaitAsync(TimeSpan.FromSeconds(1));
        Assert.True(journal.FirstLoadCutShort, "the load went on after the lock was lost");
        Assert.True(await engine.CommitAsync(term, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)), "the term that started is not live");
        Assert.Equal(2, journal.Acquires);
        Assert.Equal(2, journal.Loads);
        await engine.StopAsync(CancellationToken.None);
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
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(new SyncOptions()),
            new InflowTracker(10), journal, DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, new FakeTimeProvider(T0));
        await engine.StartAsync(CancellationToken.None);
        api.DownloadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var activation = engine.EnsureCurrentAsync(CancellationToken.None);
        await api.DownloadWaiting.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // When the service stops
        await engine.QuiesceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
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
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var time = new FakeTimeProvider(T0);
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(new SyncOptions()),
            new InflowTracker(10), journal, DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
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
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var time = new FakeTimeProvider(T0);
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(new SyncOptions()),
            new InflowTracker(10), journal, DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
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

    [Fact]
    public async Task Activation_WhenTheJournalCannotBeReadAndTheFirstBatchGivesUp_IsTriedAgain_AndTheNextBatchGetsTheRowsReadThen()
    {
        // #13 defect 2: a takeover reload that was cancelled stayed cached, and every later batch faulted.
        var api = new FakeMappingApi();
        var time = new FakeTimeProvider(T0);
        var journal = new FlakyJournal();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }),
            Options.Create(new SyncOptions { ProbeInterval = TimeSpan.FromSeconds(15) }), new InflowTracker(10), journal, DiscardRefusedEvents.Instance,
            new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
        await engine.StartAsync(CancellationToken.None);
        api.Rows["a"] = new Dictionary<string, string> { ["host"] = "a", ["owner"] = "written-by-the-active-one", ["team"] = "sre" };

        using var gaveUp = new CancellationTokenSource();
        var first = engine.EnsureCurrentAsync(gaveUp.Token);
        await Support.Eventually.UntilAsync(() => journal.Loads >= 1, TimeSpan.FromSeconds(5), "the journal to be read");
        await gaveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);

        // The shared activation was not cut short with it: once the journal answers, the next batch gets the rows read then.
        journal.Failing = false;
        var second = engine.EnsureCurrentAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!second.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(second, Task.Delay(20));
        }

        await second.WaitAsync(TimeSpan.FromSeconds(1));
        // Only the row read at activation completes a partial change: without it the change would be incomplete.
        var partial = new InventoryEvent(EventKind.OwnerChanged, new Dictionary<string, string> { ["host"] = "a", ["owner"] = "bob" }, T0, null);
        var (_, outcome) = Assert.Single(engine.Apply(partial, default(ActivityContext)));
        Assert.True(await engine.CommitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)));
        // The first holder of this journal waits out a write in flight it cannot know of: the clock moves on.
        while (!outcome.IsCompleted && DateTime.UtcNow < deadline.AddSeconds(10))
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(outcome, Task.Delay(20));
        }

        Assert.Equal(OutcomeKind.Applied, (await outcome.WaitAsync(TimeSpan.FromSeconds(5))).Kind);
        Assert.Equal(new Dictionary<string, string> { ["host"] = "a", ["owner"] = "bob", ["team"] = "sre" }, api.Rows["a"]);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task DownloadInNoKnownShape_LeavesTheSchemaNotLoaded_NamingIt_EventsWait_ThenItLoadsOnTheNextProbe()
    {
        var api = new FakeMappingApi { DownloadFailure = new DownloadFormatException("data/download answered 1,024 bytes of text/html, not CSV: '<html>'") };
        api.Rows["a"] = new Dictionary<string, string> { ["host"] = "a", ["owner"] = "alice", ["team"] = "sre" };
        var time = new FakeTimeProvider(T0);
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var sync = new SyncOptions { ProbeInterval = TimeSpan.FromSeconds(15) };
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(sync),
            new InflowTracker(10), new InMemoryRowJournal(), DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);

        await engine.StartAsync(CancellationToken.None);
        Assert.Contains("text/html", engine.NotReadyReason);
        var change = new InventoryEvent(EventKind.OwnerChanged, new Dictionary<string, string> { ["host"] = "a", ["owner"] = "bob" }, T0, null);
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)); // this replica became the active one
        var (_, deferred) = Assert.Single(engine.Apply(change, default(ActivityContext)));
        Assert.Equal(OutcomeKind.Deferred, deferred.Result.Kind); // parked, not taken against an empty schema
        Assert.Contains("text/html", deferred.Result.Reason);

        api.DownloadFailure = null;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.NotReadyReason is not null && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }

        // Loaded into the term on its probe: the event, back from the wait queue, applies.
        var (_, outcome) = Assert.Single(engine.Apply(change, default(ActivityContext)));
        Assert.Equal(OutcomeKind.Applied, (await outcome.WaitAsync(TimeSpan.FromSeconds(5))).Kind);
        Assert.Equal("bob", api.Rows["a"]["owner"]);
        Assert.Null(engine.NotReadyReason);
        await engine.StopAsync(CancellationToken.None);
    }
}
