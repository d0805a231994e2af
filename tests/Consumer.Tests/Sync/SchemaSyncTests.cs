using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

public sealed class SchemaSyncTests : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeMappingApi _api = new();
    private readonly FakeTimeProvider _time = new(T0.AddHours(1));
    private readonly CancellationTokenSource _stop = new();
    private readonly SchemaSync _sync;
    private Task? _writer;

    public SchemaSyncTests()
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        _sync = new SchemaSync(new SchemaDefinition("665f1a2b3c4d5e6f7a8b9c01", "s", ["host"], ["owner", "team"], RowCap: 5000),
            _api, new SyncOptions(), new InflowTracker(10), DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger.Instance, _time);
    }

    private void StartWriter() => _writer = Task.Run(() => _sync.RunAsync(_stop.Token));

    private static InventoryEvent Provision(string host, string owner, string team, DateTimeOffset at) =>
        new(EventKind.HostProvisioned, new Dictionary<string, string> { ["host"] = host, ["owner"] = owner, ["team"] = team }, at, null);

    private static InventoryEvent Owner(string host, string owner, DateTimeOffset at) =>
        new(EventKind.OwnerChanged, new Dictionary<string, string> { ["host"] = host, ["owner"] = owner }, at, null);

    private Task<KeyOutcome> Apply(InventoryEvent e) => _sync.Apply(e, default(ActivityContext))!;

    [Fact]
    public async Task RowsArrivingWhileAWriteIsInFlight_JoinTheNextWrite_NeverTwoInFlight()
    {
        _api.Gate = new TaskCompletionSource();
        StartWriter();
        var first = Apply(Provision("a", "alice", "sre", T0));
        await Support.Eventually.UntilAsync(() => _api.Upserts.Count == 1, TimeSpan.FromSeconds(5), "the first upsert");

        var later = new[] { Apply(Provision("b", "bob", "sre", T0)), Apply(Provision("c", "carol", "sre", T0)), Apply(Provision("d", "dan", "sre", T0)) };
        _api.Gate.SetResult();
        _api.Gate = null;
        await Task.WhenAll(later.Append(first)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(2, _api.Upserts.Count);
        Assert.Equal(["b", "c", "d"], _api.Upserts[1].Select(d => d["host"]).Order());
        Assert.Equal(1, _api.MaxInFlight);
        Assert.All(later, t => Assert.Equal(OutcomeKind.Applied, t.Result.Kind));
    }

    [Fact]
    public async Task JournaledTimes_KeepStaleEventsFromOverwriting_AndDeletedRowsDeleted_WhileNewerEventsApply()
    {
        JournalRow Journaled(DateTimeOffset? deleted, params (string Label, string? Value, DateTimeOffset At)[] labels)
        {
            var row = new JournalRow { DeletedAt = deleted };
            foreach (var (label, value, at) in labels) row.Labels[label] = (value, at);
            return row;
        }

        var journal = new Dictionary<string, JournalRow>
        {
            ["a"] = Journaled(null, ("host", "a", T0), ("owner", "bob", T0.AddMinutes(10)), ("team", "sre", T0)),
            ["gone"] = Journaled(T0.AddMinutes(10), ("host", null, T0.AddMinutes(10)), ("owner", null, T0.AddMinutes(10)), ("team", null, T0.AddMinutes(10))),
        };
        _sync.Load([new Dictionary<string, string> { ["host"] = "a", ["owner"] = "bob", ["team"] = "sre" }], journal);
        StartWriter();

        var stale = await Apply(Owner("a", "stale", T0.AddMinutes(5))).WaitAsync(TimeSpan.FromSeconds(5));
        var zombie = await Apply(Provision("gone", "zombie", "sre", T0.AddMinutes(5))).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(OutcomeKind.Applied, stale.Kind);
        Assert.Equal(OutcomeKind.Applied, zombie.Kind);
        Assert.Empty(_api.Upserts); // neither changes anything

        // A team change newer than the team's stamp applies, and keeps bob (newer than it) as the owner.
        await Apply(Provision("a", "alice", "platform", T0.AddMinutes(7))).WaitAsync(TimeSpan.FromSeconds(5));
        var doc = Assert.Single(Assert.Single(_api.Upserts));
        Assert.Equal("bob", doc["owner"]);
        Assert.Equal("platform", doc["team"]);
    }

    [Fact]
    public async Task ManyChangesToOneKey_CoalesceToOneDoc_WithTheNewestValue()
    {
        var outcomes = Enumerable.Range(0, 10).Select(i => Apply(Provision("a", $"owner-{i}", "sre", T0.AddSeconds(i)))).ToList();
        StartWriter();
        await Task.WhenAll(outcomes).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Single(_api.Upserts);
        Assert.Equal("owner-9", _api.Rows["a"]["owner"]);
    }

    [Fact]
    public async Task MoreThan1000Rows_GoInSuccessiveRequestsOfAtMost1000()
    {
        var outcomes = Enumerable.Range(0, 2500).Select(i => Apply(Provision($"h{i}", "alice", "sre", T0))).ToList();
        StartWriter();
        await Task.WhenAll(outcomes).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal([1000, 1000, 500], _api.Upserts.Select(u => u.Count));
        Assert.Equal(2500, _api.Rows.Count);
    }

    [Fact]
    public async Task StaleEvent_DoesNotRevertANewerValue_AndChangesNothing()
    {
        StartWriter();
        await Apply(Provision("a", "bob", "sre", T0.AddMinutes(5))).WaitAsync(TimeSpan.FromSeconds(5));
        var stale = await Apply(Owner("a", "mallory", T0)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(OutcomeKind.Applied, stale.Kind);
        Assert.Single(_api.Upserts);
        Assert.Equal("bob", _api.Rows["a"]["owner"]);
    }

    [Fact]
    public async Task OlderEventOverwrittenByANewerOne_StaysWithTheRowUntilItIsWritten_AndIsSetAsideWithItWhenFlashdutyRefusesIt()
    {
        // #13 defect 3: bob's change was acknowledged as superseded by carol's; Flashduty refused carol's row; bob's value was lost.
        var refused = new RecordingRefusals();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var sync = new SchemaSync(new SchemaDefinition("665f1a2b3c4d5e6f7a8b9c01", "s", ["host"], ["owner", "team"], RowCap: 5000),
            _api, new SyncOptions(), new InflowTracker(10), refused, new SyncMetrics(meters), NullLogger.Instance, _time);
        sync.Load([new Dictionary<string, string> { ["host"] = "a", ["owner"] = "alice", ["team"] = "sre" }]);
        _api.Refuses = d => d["owner"] == "carol";
        var bob = sync.Apply(Owner("a", "bob", T0.AddSeconds(1)), default, Copy("bob"))!;
        var carol = sync.Apply(Owner("a", "carol", T0.AddSeconds(2)), default, Copy("carol"))!;
        Assert.False(bob.IsCompleted, "bob's change is not settled by carol's overwriting it");

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() => sync.RunAsync(stop.Token));
        var outcomes = await Task.WhenAll(bob, carol).WaitAsync(TimeSpan.FromSeconds(5));
        await stop.CancelAsync();
        await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);

        Assert.All(outcomes, o => Assert.Equal(OutcomeKind.Rejected, o.Kind));
        Assert.Equal(["bob", "carol"], refused.Copies.Select(c => c.MessageId).Order());
        Assert.All(refused.Outcomes, o => Assert.Contains("Flashduty refused row 'a'", o.Reason, StringComparison.Ordinal));
        Assert.Equal("alice", _api.Rows.GetValueOrDefault("a")?["owner"] ?? "alice"); // what Flashduty held before both
    }

    [Fact]
    public async Task PastTheCapOfEventsPerRow_OnlyEventsWhoseLabelsNewerOnesOverwroteAreSettled_TheOneThatAloneSetALabelStaysToBeReported()
    {
        var refused = new RecordingRefusals();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var sync = new SchemaSync(new SchemaDefinition("665f1a2b3c4d5e6f7a8b9c01", "s", ["host"], ["owner", "team"], RowCap: 5000),
            _api, new SyncOptions(), new InflowTracker(10), refused, new SyncMetrics(meters), NullLogger.Instance, _time);
        var provision = sync.Apply(Provision("a", "alice", "sre", T0), default, Copy("provision"))!;
        var changes = Enumerable.Range(1, 70).Select(i => sync.Apply(Owner("a", $"o{i}", T0.AddSeconds(i)), default, Copy($"owner-{i}"))!).ToList();

        Assert.False(provision.IsCompleted, "it alone set the team: it stays with the row");
        Assert.Equal(70 + 1 - 64, changes.Count(c => c.IsCompleted)); // the oldest owner changes, overwritten by newer ones

        _api.Refuses = _ => true;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() => sync.RunAsync(stop.Token));
        await provision.WaitAsync(TimeSpan.FromSeconds(5));
        await stop.CancelAsync();
        await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        Assert.Contains(refused.Copies, c => c.MessageId == "provision");
        Assert.Equal(64, refused.Copies.Count);
    }

    private static EventCopy Copy(string id) =>
        new("inventory.owner-changed", id, "application/json", System.Text.Encoding.UTF8.GetBytes(id), new Dictionary<string, string>(), null, T0, id);

    private sealed class RecordingRefusals : IRefusedEvents
    {
        public List<EventCopy> Copies { get; } = [];
        public List<KeyOutcome> Outcomes { get; } = [];

        public Task SetAsideAsync(EventCopy copy, string schemaId, KeyOutcome outcome, CancellationToken ct)
        {
            lock (Copies)
            {
                Copies.Add(copy);
                Outcomes.Add(outcome);
            }

            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task PoisonRow_IsIsolatedByBisection_WithinTwoLog2Requests_AndTheOthersAreWritten()
    {
        _api.Refuses = doc => doc["owner"] == "bad";
        var outcomes = Enumerable.Range(0, 64).Select(i => Apply(Provision($"h{i}", i == 37 ? "bad" : "ok", "sre", T0))).ToList();
        StartWriter();
        await Task.WhenAll(outcomes).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(OutcomeKind.Rejected, outcomes[37].Result.Kind);
        Assert.Contains("InvalidParameter a doc is refused (request_id req-bad)", outcomes[37].Result.Reason);
        Assert.All(outcomes.Where((_, i) => i != 37), o => Assert.Equal(OutcomeKind.Applied, o.Result.Kind));
        Assert.Equal(63, _api.Rows.Count);
        Assert.True(_api.Upserts.Count <= 1 + 2 * 6, $"{_api.Upserts.Count} upserts");
    }

    [Fact]
    public async Task AuthFailure_PausesWithoutSettling_ThenResumesOnItsOwn()
    {
        _api.Failure = new FlashdutyApiException("data/upsert", 403, "AccessDenied", "no permission", "req-403");
        StartWriter();
        var outcome = Apply(Provision("a", "alice", "sre", T0));
        await Support.Eventually.UntilAsync(() => _sync.PausedReason is not null, TimeSpan.FromSeconds(5), "the pause");
        Assert.Contains("Mappings Manage", _sync.PausedReason);
        Assert.False(outcome.IsCompleted);

        _api.Failure = null;
        _time.Advance(TimeSpan.FromSeconds(15));
        await outcome.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(OutcomeKind.Applied, outcome.Result.Kind);
        Assert.Null(_sync.PausedReason);
    }

    [Fact]
    public async Task Decommission_DeletesTheRow_AndAnOlderProvisionDoesNotBringItBack_ButANewerOneDoes()
    {
        StartWriter();
        await Apply(Provision("a", "alice", "sre", T0)).WaitAsync(TimeSpan.FromSeconds(5));
        var delete = new InventoryEvent(EventKind.HostDecommissioned, new Dictionary<string, string> { ["host"] = "a" }, T0.AddMinutes(10), null);
        await Apply(delete).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(_api.Rows.ContainsKey("a"));

        var older = await Apply(Provision("a", "zombie", "sre", T0.AddMinutes(5))).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(OutcomeKind.Applied, older.Kind);
        Assert.False(_api.Rows.ContainsKey("a"));

        await Apply(Provision("a", "reborn", "sre", T0.AddMinutes(20))).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("reborn", _api.Rows["a"]["owner"]);
    }

    [Fact]
    public async Task NewKeyPastTheRowCap_IsRejectedNamingTheCap_UpdatesGoOn()
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var small = new SchemaSync(new SchemaDefinition("665f1a2b3c4d5e6f7a8b9c01", "s", ["host"], ["owner", "team"], RowCap: 2),
            _api, new SyncOptions(), new InflowTracker(10), DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger.Instance, _time);
        _ = Task.Run(() => small.RunAsync(_stop.Token));
        await small.Apply(Provision("a", "x", "t", T0), default)!.WaitAsync(TimeSpan.FromSeconds(5));
        await small.Apply(Provision("b", "x", "t", T0), default)!.WaitAsync(TimeSpan.FromSeconds(5));

        var third = await small.Apply(Provision("c", "x", "t", T0), default)!;
        var update = await small.Apply(Owner("a", "y", T0.AddSeconds(1)), default)!.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(OutcomeKind.Rejected, third.Kind);
        Assert.Contains("cap of 2 rows", third.Reason);
        Assert.Equal(OutcomeKind.Applied, update.Kind);
        Assert.Equal("y", _api.Rows["a"]["owner"]);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_writer is not null) await _writer.ContinueWith(_ => { });
    }
}
