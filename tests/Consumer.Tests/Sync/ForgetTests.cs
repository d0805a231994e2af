using FlashdutySync.Sync;
using static FlashdutySync.Tests.Sync.SchemaSyncUnderTest;

namespace FlashdutySync.Tests.Sync;

/// <summary>
/// Decommissions past Sync:DeleteRetention are forgotten, in memory and in the journal: every row that ever existed
/// stayed in both for ever (a fleet replacing hosts grew its heap, its journal and every term's load without bound).
/// </summary>
public sealed class ForgetTests
{
    private static readonly string[] HostEnv = ["host", "env"];
    private static readonly TimeSpan PastRetention = new SyncOptions().DeleteRetention + TimeSpan.FromHours(1);

    private static InventoryEvent Provision(string host, string env, string owner, DateTimeOffset at) =>
        Event(EventKind.HostProvisioned, at, ("host", host), ("env", env), ("owner", owner), ("team", "sre"));

    private static InventoryEvent Decommission(string host, DateTimeOffset at) => Event(EventKind.HostDecommissioned, at, ("host", host));

    private static Dictionary<string, string> Row(string host, string env, string owner) => new() { ["host"] = host, ["env"] = env, ["owner"] = owner, ["team"] = "sre" };

    private static string Key(string host, string env) => host + SchemaDefinition.KeySeparator + env;

    private static void Journal(JournalState journal, SchemaSync sync)
    {
        foreach (var entry in sync.TakeJournalEntries()) journal.Merge(entry);
    }

    [Fact]
    public async Task ADecommissionedRow_IsForgottenOncePastTheRetention_InMemoryAndInTheJournal_TheOtherRowsStay()
    {
        // Given two hosts' rows, one host decommissioned (its delete written) and journaled
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice"), Row("b", "prod", "bob")]);
        var journal = new JournalState();
        await sync.SettleAsync([sync.Apply(Provision("b", "prod", "bob2", T0.AddMinutes(4))), sync.Apply(Decommission("a", T0.AddMinutes(5)))]);
        Journal(journal, sync.Sync);
        var schema = sync.Sync.Schema.SchemaId;
        Assert.True(journal.For(schema).ContainsKey(Key("a", "prod")));
        Assert.Equal(2, sync.Sync.KnownKeys);

        // When the retention has passed
        sync.Time.Advance(PastRetention);
        Journal(journal, sync.Sync);

        // Then the deleted row is gone from memory and from the journal; the live one stays
        Assert.Equal(1, sync.Sync.KnownKeys);
        Assert.Equal([Key("b", "prod")], journal.For(schema).Keys);
        Assert.Equal("bob2", Assert.Single(api.Rows.Values)["owner"]);
        // And a provision of the host afterwards makes its row afresh
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "again", sync.Time.GetUtcNow()))]);
        Assert.Equal("again", api.Rows["a,prod"]["owner"]);
    }

    [Fact]
    public async Task WithinTheRetention_OrWithALabelSetSinceTheDecommission_NothingIsForgotten()
    {
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice"), Row("c", "prod", "carol")]);
        var journal = new JournalState();
        await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(5))), sync.Apply(Decommission("c", T0.AddMinutes(5)))]);
        Journal(journal, sync.Sync);

        // Host c is set again after its decommission, by an event that makes no complete row (it waits for the rest)
        _ = sync.Apply(Event(EventKind.OwnerChanged, T0.AddMinutes(6), ("host", "c"), ("env", "prod"), ("owner", "carol2")));
        sync.Time.Advance(new SyncOptions().DeleteRetention - TimeSpan.FromHours(2));
        Journal(journal, sync.Sync);
        Assert.Equal(2, sync.Sync.KnownKeys); // within the retention: both kept

        sync.Time.Advance(TimeSpan.FromHours(3));
        Journal(journal, sync.Sync);
        // Past it: a is forgotten; c keeps the label set after its decommission
        Assert.Equal(1, sync.Sync.KnownKeys);
        var c = journal.For(sync.Sync.Schema.SchemaId)[Key("c", "prod")];
        Assert.Equal("carol2", c.Labels["owner"].Value);
        Assert.False(journal.For(sync.Sync.Schema.SchemaId).ContainsKey(Key("a", "prod")));
    }

    [Fact]
    public async Task AHostTombstoneWithoutRows_PastTheRetention_IsForgottenInTheJournal_AtTheNextTermsLoad()
    {
        // Given the tombstone of a host without rows, journaled in one term
        var api = new FakeMappingApi();
        var journal = new JournalState();
        await using (var first = new SchemaSyncUnderTest(api, HostEnv))
        {
            await first.SettleAsync([first.Apply(Decommission("z", T0.AddMinutes(5)))]);
            Journal(journal, first.Sync);
        }

        var tombstones = SchemaSync.TombstonesOf("665f1a2b3c4d5e6f7a8b9c01");
        Assert.True(journal.For(tombstones).ContainsKey("z"));

        // When a term starts from the journal past the retention
        await using var next = new SchemaSyncUnderTest(api, HostEnv);
        next.Time.Advance(PastRetention);
        next.Sync.Load([], journal.For(next.Sync.Schema.SchemaId), journal.For(tombstones));
        Journal(journal, next.Sync);

        // Then the journal forgets it
        Assert.False(journal.For(tombstones).ContainsKey("z"));
    }

    [Fact]
    public async Task AHostTombstoneWithoutRows_PastTheRetentionWhileTheTermRuns_IsForgottenInTheJournal()
    {
        var api = new FakeMappingApi();
        var journal = new JournalState();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv);
        await sync.SettleAsync([sync.Apply(Decommission("z", T0.AddMinutes(5)))]);
        Journal(journal, sync.Sync);
        var tombstones = SchemaSync.TombstonesOf(sync.Sync.Schema.SchemaId);
        Assert.True(journal.For(tombstones).ContainsKey("z"));

        sync.Time.Advance(PastRetention);
        Journal(journal, sync.Sync);

        Assert.False(journal.For(tombstones).ContainsKey("z"));
    }

    [Fact]
    public async Task ADeletePastTheRetentionThatIsNotWrittenYet_IsNotForgotten_UntilItIs()
    {
        // Given a decommission whose delete fails (Flashduty down)
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice")]);
        api.Failure = new FlashdutySync.Flashduty.FlashdutyApiException("data/delete", 503, null, "unavailable", "req-down");
        var decommission = sync.Apply(Decommission("a", T0.AddMinutes(5)));
        var journal = new JournalState();
        Journal(journal, sync.Sync);

        // When the retention passes with the delete still unwritten
        sync.Time.Advance(PastRetention);
        Journal(journal, sync.Sync);

        // Then nothing is forgotten; once the delete lands, the next sweep forgets it
        Assert.Equal(1, sync.Sync.KnownKeys);
        Assert.True(journal.For(sync.Sync.Schema.SchemaId).ContainsKey(Key("a", "prod")));
        api.Failure = null;
        await sync.SettleAsync([decommission]);
        Assert.Empty(api.Rows);
        Journal(journal, sync.Sync);
        sync.Time.Advance(TimeSpan.FromMinutes(11));
        Journal(journal, sync.Sync);
        Assert.Equal(0, sync.Sync.KnownKeys);
        Assert.False(journal.For(sync.Sync.Schema.SchemaId).ContainsKey(Key("a", "prod")));
    }

    [Fact]
    public async Task AForgetWhoseAppendFailed_AndARowMadeAgainByAnOlderEventMeanwhile_TheJournalKeepsTheNewRow()
    {
        // Given a decommissioned row journaled, past the retention, its forget taken by an append that fails
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice")]);
        var journal = new JournalState();
        await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(5)))]);
        Journal(journal, sync.Sync);
        sync.Time.Advance(PastRetention);
        var failed = sync.Sync.TakeJournalEntries();
        Assert.Contains(failed, e => e.Forget && e.Key == Key("a", "prod"));
        sync.Sync.ReturnJournalEntries(failed);

        // When an event older than the forgotten decommission makes the row again before the retry
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "late", T0.AddMinutes(1)))]);
        Journal(journal, sync.Sync);

        // Then the journal holds the row as written (a next term would not delete it)
        Assert.Equal("late", api.Rows["a,prod"]["owner"]);
        Assert.Equal("late", journal.For(sync.Sync.Schema.SchemaId)[Key("a", "prod")].Labels["owner"].Value);
    }

    [Fact]
    public async Task ADecommissionDrainedFromABacklogOlderThanTheRetention_StillStopsTheOlderEventsBehindIt_ForTheRetention()
    {
        // Given a decommission that occurred two days ago, applied now (a backlog after a long outage)
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice")]);
        var occurred = sync.Time.GetUtcNow().AddDays(-2);
        await sync.SettleAsync([sync.Apply(Decommission("a", occurred))]);
        var journal = new JournalState();
        Journal(journal, sync.Sync);

        // When the next sweep runs, and an older provision from the same backlog follows
        sync.Time.Advance(TimeSpan.FromMinutes(11));
        Journal(journal, sync.Sync);
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "older", occurred.AddMinutes(-1)))]);

        // Then the row is not forgotten, and the older provision makes nothing; a retention after it was applied, it is forgotten
        Assert.Empty(api.Rows);
        Assert.Equal(1, sync.Sync.KnownKeys);
        sync.Time.Advance(PastRetention);
        Journal(journal, sync.Sync);
        Assert.Equal(0, sync.Sync.KnownKeys);
        Assert.False(journal.For(sync.Sync.Schema.SchemaId).ContainsKey(Key("a", "prod")));
    }

    [Fact]
    public async Task AHostsDecommissionDrainedFromABacklogOlderThanTheRetention_StopsAnOlderProvisionOfAnotherCombination_ForTheRetention()
    {
        // Given host a's decommission that occurred two days ago, applied now (a backlog after a long outage)
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice")]);
        var occurred = sync.Time.GetUtcNow().AddDays(-2);
        await sync.SettleAsync([sync.Apply(Decommission("a", occurred))]);

        // When an older provision of another combination of the host follows from the same backlog, after a sweep
        sync.Time.Advance(TimeSpan.FromMinutes(11));
        _ = sync.Sync.TakeJournalEntries();
        await sync.SettleAsync([sync.Apply(Provision("a", "staging", "older", occurred.AddMinutes(-1)))]);

        // Then it makes no row (the host's tombstone counts from when the service learnt of it too)
        Assert.Empty(api.Rows);
    }

    [Fact]
    public async Task ARowNoEventSet_DeletedInFlashduty_IsForgottenByDriftRepair_TheServicesRowsStay()
    {
        // Given a row added in the console (no event set it) and a row an event set
        var api = new FakeMappingApi();
        api.Rows["c,prod"] = Row("c", "prod", "carol");
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("c", "prod", "carol")]);
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "alice", T0))]);
        Assert.Equal(2, sync.Sync.KnownKeys);

        // When someone deletes the console's row and drift repair runs
        Assert.True(api.Rows.Remove("c,prod"));
        var report = await sync.Sync.ReconcileAsync(dryRun: false, CancellationToken.None);

        // Then the service no longer keeps a key for it (it kept an empty one until the next term); its own row stays
        Assert.Equal((0, 0, 0), (report.Missing, report.Differing, report.Foreign));
        Assert.Equal(1, sync.Sync.KnownKeys);
        Assert.Equal("alice", Assert.Single(api.Rows.Values)["owner"]);
        Assert.DoesNotContain(sync.Sync.TakeJournalEntries(), e => e.Key == Key("c", "prod")); // never journaled, nothing to forget there

        // And the key made again by the console later is taken as Flashduty's again
        api.Rows["c,prod"] = Row("c", "prod", "carol2");
        report = await sync.Sync.ReconcileAsync(dryRun: false, CancellationToken.None);
        Assert.Equal(1, report.Foreign);
        Assert.Equal(2, sync.Sync.KnownKeys);
    }
}
