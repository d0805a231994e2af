using FlashdutySync.Sync;

namespace FlashdutySync.Tests.Sync;

/// <summary>
/// When a schema writes while events stream in (the inflow never idle): a sync of distinct rows in full requests at
/// once, a burst that keeps changing the same rows once the inflow goes idle, each row in one doc.
/// </summary>
public sealed class GroupCommitTests : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = SchemaSyncUnderTest.T0;
    private readonly FakeMappingApi _api = new();
    private readonly object _delivery = new();
    private InflowTracker? _inflow;
    private readonly SchemaSyncUnderTest _under;

    public GroupCommitTests()
    {
        _under = new SchemaSyncUnderTest(_api, ["host"], options: new SyncOptions(), inflow: time => _inflow = new InflowTracker(10, time: time));
        // An event delivered and not applied yet: the inflow is busy until the test says otherwise.
        _inflow!.Arrived(_delivery);
    }

    private Task<KeyOutcome> Apply(string host, string owner, int second) =>
        _under.Apply(SchemaSyncUnderTest.Event(EventKind.HostProvisioned, T0.AddSeconds(second), ("host", host), ("owner", owner), ("team", "sre")));

    private int UpsertCount => _api.Upserts.Count;

    /// <summary>The inflow goes idle; waits for the outcomes, moving the fake clock past the quiet period each poll.</summary>
    private async Task IdleAndSettleAsync(IEnumerable<Task<KeyOutcome>> outcomes)
    {
        _inflow!.Applied(_delivery);
        var all = Task.WhenAll(outcomes);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!all.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "rows not written within 10 s of the inflow going idle");
            _under.Time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.WhenAny(all, Task.Delay(10));
        }

        await all;
    }

    [Fact]
    public async Task DistinctRows_WhileEventsStream_GoInFullRequestsAtOnce()
    {
        var outcomes = Enumerable.Range(0, 2500).Select(i => Apply($"h{i}", "alice", 1)).ToList();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (UpsertCount < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{UpsertCount} full requests written while the inflow streams; expected 2");
            await Task.Delay(10);
        }

        await IdleAndSettleAsync(outcomes);
        Assert.Equal([1000, 1000, 500], _api.Upserts.Select(u => u.Count));
    }

    [Fact]
    public async Task BurstThatKeepsChangingItsRows_WaitsForTheInflowToGoIdle_AndWritesEachRowOnce()
    {
        var outcomes = new List<Task<KeyOutcome>>();
        outcomes.AddRange(Enumerable.Range(0, 500).Select(i => Apply($"h{i}", "alice", 1)));
        outcomes.AddRange(Enumerable.Range(0, 100).Select(i => Apply($"h{i}", "bob", 2))); // revisits: 100 of 600 changes
        outcomes.AddRange(Enumerable.Range(500, 600).Select(i => Apply($"h{i}", "alice", 1))); // 1,100 pending, 9% revisited
        outcomes.AddRange(Enumerable.Range(100, 500).Select(i => Apply($"h{i}", "carol", 3))); // changed again before any write

        await IdleAndSettleAsync(outcomes);
        Assert.Equal(1100, _api.Upserts.Sum(u => u.Count));
        Assert.Equal(2, _api.Upserts.Count);
        Assert.Equal("bob", _api.Rows["h0"]["owner"]);
        Assert.Equal("carol", _api.Rows["h599"]["owner"]);
    }

    public ValueTask DisposeAsync() => _under.DisposeAsync();
}
