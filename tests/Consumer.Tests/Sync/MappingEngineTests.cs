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

    private static MappingEngine Engine(FakeMappingApi api, TimeProvider time, SyncOptions sync, IRowJournal? journal = null)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        return new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(sync),
            new InflowTracker(10), journal ?? new InMemoryRowJournal(), DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, time);
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

    [Fact]
    public async Task Activation_CountsHostTombstonesApartFromRows()
    {
        // The log counted a tombstone's journal id as a schema and its entries as rows.
        var journal = new InMemoryRowJournal();
        await journal.AppendAsync([
            new JournalEntry(Schema, "a", new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = ("o", T0) }, null, [], ReplacesEvents: false),
            new JournalEntry(SchemaSync.TombstonesOf(Schema), "gone-host", new Dictionary<string, (string?, DateTimeOffset)>(), T0, [], ReplacesEvents: false),
        ], CancellationToken.None);
        var logs = new Support.CapturingLoggerProvider();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var engine = new MappingEngine(new FakeMappingApi(), Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }), Options.Create(new SyncOptions()),
            new InflowTracker(10), journal, DiscardRefusedEvents.Instance, new SyncMetrics(meters),
            Microsoft.Extensions.Logging.LoggerFactoryExtensions.CreateLogger<MappingEngine>(new Microsoft.Extensions.Logging.LoggerFactory([logs])), new FakeTimeProvider(T0));
        await engine.StartAsync(CancellationToken.None);
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Contains(logs.Lines, l => l.Contains("1 journaled rows over 1 schemas, 1 host tombstones", StringComparison.Ordinal));
        await engine.StopAsync(CancellationToken.None);
    }

    /// <summary>
    /// A load that marks rows for the journal (here a decommissioned row journaled before the service noted when it
    /// learnt of it) journals them without waiting for a batch: the committer's doorbell was wired after the load, so
    /// they waited for the next event, and a holder that died before one left them to be stamped again.
    /// </summary>
    [Fact]
    public async Task WhatTheLoadMarksForTheJournal_IsJournaledWithoutWaitingForABatch()
    {
        var journal = new InMemoryRowJournal();
        var deleted = new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = (null, T0), ["team"] = (null, T0) };
        await journal.AppendAsync([new JournalEntry(Schema, "a", deleted, T0, [], ReplacesEvents: false)], CancellationToken.None);
        var engine = Engine(new FakeMappingApi(), new FakeTimeProvider(T0.AddHours(1)), new SyncOptions(), journal);
        await engine.StartAsync(CancellationToken.None);
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        await Support.Eventually.UntilAsync(() => journal.Appends >= 2, TimeSpan.FromSeconds(5), "the load's marks to be journaled");
        var reloaded = await journal.LoadAsync(CancellationToken.None);
        Assert.Equal(T0.AddHours(1), reloaded.For(Schema)["a"].DeletedSeen);
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
