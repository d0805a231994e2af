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

    [Fact]
    public async Task TakeoverReload_WhenFlashdutyFailsAndTheFirstBatchGivesUp_IsTriedAgain_AndTheNextBatchGetsTheReloadedRows()
    {
        var api = new FakeMappingApi();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(api, time, new SyncOptions { ProbeInterval = TimeSpan.FromSeconds(15) });
        await engine.StartAsync(CancellationToken.None);
        api.Rows["a"] = new Dictionary<string, string> { ["host"] = "a", ["owner"] = "written-by-the-active-one", ["team"] = "sre" };

        // Flashduty fails the reload, and the first batch stops waiting (its bus is stopping, say).
        api.DownloadFailure = new FlashdutyApiException("data/download", 503, "ServiceUnavailable", "down", "req-503");
        using var gaveUp = new CancellationTokenSource();
        var first = engine.EnsureCurrentAsync(gaveUp.Token);
        await Support.Eventually.UntilAsync(() => api.DownloadCalls >= 2, TimeSpan.FromSeconds(5), "the reload to be tried");
        await gaveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);

        // The shared reload was not cut short with it: once Flashduty is back, the next batch gets the reloaded rows.
        api.DownloadFailure = null;
        var second = engine.EnsureCurrentAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!second.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(second, Task.Delay(20));
        }

        await second.WaitAsync(TimeSpan.FromSeconds(1));
        // Only the reloaded row completes a partial change: without the reload it would be incomplete.
        var partial = new InventoryEvent(EventKind.OwnerChanged, new Dictionary<string, string> { ["host"] = "a", ["owner"] = "bob" }, T0, null);
        var (_, outcome) = Assert.Single(engine.Apply(partial, default(ActivityContext)));
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
