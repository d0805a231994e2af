using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>The replica's terms as the journal's holder: what a lost lock, a clean release and a new term do to writes.</summary>
public sealed class ReplicaTermTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static MappingEngine Engine(FakeMappingApi api, IRowJournal journal, TimeProvider time) =>
        new(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema], AttemptTimeout = TimeSpan.FromSeconds(10) }),
            Options.Create(new SyncOptions { ProbeInterval = TimeSpan.FromSeconds(15) }), new InflowTracker(10), journal, DiscardRefusedEvents.Instance,
            new SyncMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            NullLogger<MappingEngine>.Instance, time);

    private static InventoryEvent Provision(string host, string owner, DateTimeOffset at) =>
        new(EventKind.HostProvisioned, new Dictionary<string, string> { ["host"] = host, ["owner"] = owner, ["team"] = "sre" }, at, null);

    [Fact]
    public async Task LostLock_AbortsTheWriteInFlightAtOnce_AppliesNothingMore_AndTheNextTermWritesFromTheJournal()
    {
        // #13 defect 8: a replica that lost the single-active-consumer role kept writing.
        var api = new FakeMappingApi { Gate = new TaskCompletionSource() };
        var journal = new InMemoryRowJournal();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(api, journal, time);
        await engine.StartAsync(CancellationToken.None);
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(Deadline);
        var (_, first) = Assert.Single(engine.Apply(Provision("a", "alice", T0), default(ActivityContext)));
        Assert.True(await engine.CommitAsync(CancellationToken.None).WaitAsync(Deadline));
        await Support.Eventually.UntilAsync(() => api.Upserts.Count == 1, Deadline, "the write in flight"); // the first holder: nothing to wait out

        journal.Lose();

        await Support.Eventually.UntilAsync(() => api.Aborted == 1, Deadline, "the write in flight to be aborted");
        var (_, late) = Assert.Single(engine.Apply(Provision("b", "bob", T0), default(ActivityContext)));
        Assert.Equal(OutcomeKind.Released, late.Result.Kind); // not applied: the batch applies it again in the next term
        Assert.False(await engine.CommitAsync(CancellationToken.None).WaitAsync(Deadline));
        Assert.False(first.IsCompleted, "acknowledged and journaled, not written: the next term writes it");
        Assert.Empty(api.Rows);

        // The next batch starts a new term: it waits out the write the lost term could still have in flight, then writes.
        api.Gate.SetResult();
        api.Gate = null;
        await engine.EnsureCurrentAsync(CancellationToken.None).WaitAsync(Deadline);
        Assert.Single(engine.Apply(Provision("b", "bob", T0), default(ActivityContext)));
        Assert.True(await engine.CommitAsync(CancellationToken.None).WaitAsync(Deadline));
        time.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(50);
        Assert.Empty(api.Rows); // still within the longest attempt of the lost term
        time.Advance(TimeSpan.FromSeconds(1));
        await Support.Eventually.UntilAsync(() => api.Rows.Count == 2, Deadline, "both rows written by the new term");
        Assert.Equal("alice", api.Rows["a"]["owner"]);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task CleanRelease_LetsTheNextHolderWriteAtOnce_WithWhatTheJournalHolds()
    {
        var api = new FakeMappingApi { Failure = new FlashdutyApiException("data/upsert", 503, null, "down", "req-1") };
        var journal = new InMemoryRowJournal();
        var time = new FakeTimeProvider(T0);
        var first = Engine(api, journal, time);
        await first.StartAsync(CancellationToken.None);
        await first.EnsureCurrentAsync(CancellationToken.None).WaitAsync(Deadline);
        Assert.Single(first.Apply(Provision("a", "alice", T0), default(ActivityContext)));
        Assert.True(await first.CommitAsync(CancellationToken.None).WaitAsync(Deadline)); // acknowledged while Flashduty is down
        await first.QuiesceAsync(CancellationToken.None).WaitAsync(Deadline);
        await first.StopAsync(CancellationToken.None);

        api.Failure = null;
        var second = Engine(api, journal, time);
        await second.StartAsync(CancellationToken.None);
        await second.EnsureCurrentAsync(CancellationToken.None).WaitAsync(Deadline);
        // No clock moved: the first let go cleanly, so nothing is waited out.
        await Support.Eventually.UntilAsync(() => api.Rows.ContainsKey("a"), Deadline, "the journaled row written by the next holder");
        Assert.Equal("alice", api.Rows["a"]["owner"]);
        await second.StopAsync(CancellationToken.None);
    }
}
