using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using static FlashdutySync.Tests.Sync.SchemaSyncUnderTest;

namespace FlashdutySync.Tests.Sync;

/// <summary>What a refused or failed write costs: only the refused rows, never the others, with as few requests as can be.</summary>
public sealed class RefusalTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static InventoryEvent Provision(string host, string owner) =>
        Event(EventKind.HostProvisioned, T0, ("host", host), ("owner", owner), ("team", "sre"));

    [Fact]
    public async Task RefusedWrite_AsksSchemaInfoOnce_NotAtEveryLevelOfTheBisection()
    {
        var api = new FakeMappingApi { Gate = new TaskCompletionSource(), Refuses = d => d["owner"] == "bad" };
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcomes = Enumerable.Range(0, 64).Select(i => sync.Apply(Provision($"h{i}", i == 37 ? "bad" : "ok"))).ToList();
        api.Gate.SetResult();
        api.Gate = null;

        var results = await sync.SettleAsync(outcomes);

        Assert.Equal(1, api.SchemaInfoCalls);
        Assert.Equal(OutcomeKind.Rejected, results[37].Kind);
        Assert.Equal(63, results.Count(r => r.Kind == OutcomeKind.Applied));
        Assert.Equal(63, api.Rows.Count);
    }

    [Fact]
    public async Task TransientFailureWhileIsolating_PutsEveryRowNotYetWrittenBack_AndTheyAreWrittenLater()
    {
        var api = new FakeMappingApi { Gate = new TaskCompletionSource(), Refuses = d => d["owner"] == "bad" };
        var failOnce = true;
        // The first half's write (during bisection) fails with a 503 once: the other half must not be stranded.
        api.UpsertFails = docs => docs.Count == 4 && failOnce && !(failOnce = false)
            ? new FlashdutyApiException("data/upsert", 503, "ServiceUnavailable", "down", "req-503")
            : null;
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcomes = Enumerable.Range(0, 8).Select(i => sync.Apply(Provision($"h{i}", i == 6 ? "bad" : "ok"))).ToList();
        api.Gate.SetResult();
        api.Gate = null;

        var results = await sync.SettleAsync(outcomes);

        Assert.Equal(OutcomeKind.Rejected, results[6].Kind);
        Assert.Equal(7, results.Count(r => r.Kind == OutcomeKind.Applied));
        Assert.Equal(Enumerable.Range(0, 8).Where(i => i != 6).Select(i => $"h{i}").Order(), api.Rows.Keys.Order());
    }

    [Fact]
    public async Task SchemaGoneByResourceNotFound_PausesWithoutSchemaInfoOrRejectingAnyRow()
    {
        var api = new FakeMappingApi { Failure = new FlashdutyApiException("data/upsert", 400, "ResourceNotFound", "schema not found", "req-gone") };
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcome = sync.Apply(Provision("a", "alice"));

        await Support.Eventually.UntilAsync(() => sync.Sync.PausedReason is not null, Deadline, "the schema paused");

        Assert.Contains("no longer exists", sync.Sync.PausedReason);
        Assert.Equal(0, api.SchemaInfoCalls);
        Assert.False(outcome.IsCompleted);
        api.Failure = null;
        Assert.Equal(OutcomeKind.Applied, (await sync.SettleAsync([outcome]))[0].Kind);
        Assert.Null(sync.Sync.PausedReason);
    }

    [Theory]
    [InlineData(400, "NoLicense", "NoLicense")]
    [InlineData(403, "AccessDenied", "Mappings Manage")]
    [InlineData(401, "Unauthorized", "Flashduty__AppKey")]
    [InlineData(400, "BadRequest", "BadRequest")]
    [InlineData(400, null, "no error code")]
    public async Task RefusalThatNeedsAnOperator_PausesNamingWhatToFix_AndRejectsNothing(int status, string? code, string named)
    {
        var api = new FakeMappingApi { Failure = new FlashdutyApiException("data/upsert", status, code, "refused", "req-x") };
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcome = sync.Apply(Provision("a", "alice"));

        await Support.Eventually.UntilAsync(() => sync.Sync.PausedReason is not null, Deadline, "the schema paused");

        Assert.Contains(named, sync.Sync.PausedReason);
        Assert.False(outcome.IsCompleted);
        Assert.Equal(0, api.SchemaInfoCalls);
    }

    [Fact]
    public async Task EntityTooLarge_SplitsTheRequest_AndWritesEveryRow()
    {
        var api = new FakeMappingApi { Gate = new TaskCompletionSource() };
        api.UpsertFails = docs => docs.Count > 3 ? new FlashdutyApiException("data/upsert", 413, "EntityTooLarge", "too large", "req-413") : null;
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcomes = Enumerable.Range(0, 10).Select(i => sync.Apply(Provision($"h{i}", "ok"))).ToList();
        api.Gate.SetResult();
        api.Gate = null;

        var results = await sync.SettleAsync(outcomes);

        Assert.All(results, r => Assert.Equal(OutcomeKind.Applied, r.Kind));
        Assert.Equal(10, api.Rows.Count);
        // Refused whole at least once, then written in parts that fit.
        Assert.Contains(api.Upserts, u => u.Count > 3);
        Assert.Equal(10, api.Upserts.Where(u => u.Count <= 3).Sum(u => u.Count));
    }

    [Fact]
    public async Task SchemaInfoFailingWhileARefusalIsChecked_KeepsTheRowsForLater_InsteadOfRejectingThem()
    {
        var api = new FakeMappingApi { Refuses = d => d["owner"] == "bad", InfoFailure = new FlashdutyApiException("schema/info", 503, null, "down", null) };
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var good = sync.Apply(Provision("a", "ok"));
        var bad = sync.Apply(Provision("b", "bad"));

        await Support.Eventually.UntilAsync(() => api.SchemaInfoCalls >= 1, Deadline, "schema/info asked");
        Assert.False(good.IsCompleted);
        Assert.False(bad.IsCompleted);
        api.InfoFailure = null;

        var results = await sync.SettleAsync([good, bad]);
        Assert.Equal(OutcomeKind.Applied, results[0].Kind);
        Assert.Equal(OutcomeKind.Rejected, results[1].Kind);
    }

    [Fact]
    public async Task WriterThatThrowsSomethingUnexpected_SaysSoInReadiness_RequeuesItsRows_AndRestarts()
    {
        var api = new FakeMappingApi();
        var throwOnce = true;
        api.UpsertFails = _ => throwOnce && !(throwOnce = false) ? new InvalidOperationException("a bug") : null;
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcome = sync.Apply(Provision("a", "alice"));

        await Support.Eventually.UntilAsync(() => sync.Sync.PausedReason is not null, Deadline, "readiness to name the failure");
        Assert.Contains("InvalidOperationException: a bug", sync.Sync.PausedReason);
        Assert.False(outcome.IsCompleted);

        Assert.Equal(OutcomeKind.Applied, (await sync.SettleAsync([outcome]))[0].Kind);
        Assert.Equal("alice", api.Rows["a"]["owner"]);
        Assert.Null(sync.Sync.PausedReason);
    }

    [Fact]
    public async Task AtTheRowCap_TheDeletesThatMakeRoomGoBeforeTheNewRows_SoNoValidRowIsRefused()
    {
        var api = new FakeMappingApi { RowCap = 3, Gate = new TaskCompletionSource() };
        Dictionary<string, string> Row(string host) => new() { ["host"] = host, ["owner"] = "o", ["team"] = "t" };
        foreach (var host in new[] { "a", "b", "c" }) api.Rows[host] = Row(host);
        await using var sync = new SchemaSyncUnderTest(api, ["host"], api.Rows.Values.ToList(), rowCap: 3);
        // A write in flight (held open) while both changes queue up behind it: the next round has a delete and a new row.
        var update = sync.Apply(Provision("c", "carol"));
        await Support.Eventually.UntilAsync(() => api.Upserts.Count == 1, Deadline, "the first write");
        var gone = sync.Apply(Event(EventKind.HostDecommissioned, T0, ("host", "a")));
        var added = sync.Apply(Provision("d", "dora"));
        api.Gate.SetResult();
        api.Gate = null;

        var results = await sync.SettleAsync([update, gone, added]);

        Assert.All(results, r => Assert.Equal(OutcomeKind.Applied, r.Kind));
        Assert.Equal(["b", "c", "d"], api.Rows.Keys.Order());
    }

    [Theory]
    [InlineData("ResourceNotFound")]
    [InlineData("InvalidParameter")]
    public async Task DeleteOfARowAlreadyGoneBehindTheServicesBack_IsRefused_ButCountsAsDone_AndPausesNothing(string code)
    {
        var api = new FakeMappingApi { UnknownDeleteCode = code };
        Dictionary<string, string> Row(string host) => new() { ["host"] = host, ["owner"] = "o", ["team"] = "t" };
        await using var sync = new SchemaSyncUnderTest(api, ["host"], [Row("a"), Row("b")]);
        api.Rows["a"] = Row("a");
        api.Rows["b"] = Row("b");
        // An upsert whose answer proves keys are values: deletes then go without a lookup.
        await sync.SettleAsync([sync.Apply(Provision("c", "carol"))]);
        api.Rows.Remove("a"); // a was deleted in Flashduty's console
        api.Gate = new TaskCompletionSource();
        var outcomes = new[] { sync.Apply(Event(EventKind.HostDecommissioned, T0, ("host", "a"))), sync.Apply(Event(EventKind.HostDecommissioned, T0, ("host", "b"))) };
        api.Gate.SetResult();
        api.Gate = null;

        var results = await sync.SettleAsync(outcomes);

        Assert.All(results, r => Assert.Equal(OutcomeKind.Applied, r.Kind));
        Assert.Equal(["c"], api.Rows.Keys);
        Assert.Null(sync.Sync.PausedReason);
        Assert.Equal(1, api.SchemaInfoCalls);
        Assert.Contains(api.Deletes, d => d.Count == 2);
    }

    [Fact]
    public async Task QuiesceWhoseTimeRunsOut_AbortsTheWriteInFlight_BeforeItReturns()
    {
        var api = new FakeMappingApi { Gate = new TaskCompletionSource() };
        await using var sync = new SchemaSyncUnderTest(api, ["host"]);
        var outcome = sync.Apply(Provision("a", "alice"));
        await Support.Eventually.UntilAsync(() => api.Upserts.Count == 1, Deadline, "the write in flight");

        // The host's shutdown time has run out while the write hangs: the journal is released only after this returns.
        await sync.Sync.QuiesceAsync(new CancellationToken(canceled: true)).WaitAsync(Deadline);

        Assert.Equal(1, api.Aborted);
        // Cut off, not finished: Flashduty may still apply it, so the journal is not released cleanly (the next holder waits it out).
        Assert.True(sync.Sync.Aborted);
        Assert.False(sync.Sync.Idle);
        Assert.False(outcome.IsCompleted, "unwritten: the journal keeps the row for the next holder");
        Assert.Empty(api.Rows);
    }
}
