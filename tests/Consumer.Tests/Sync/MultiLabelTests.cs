using System.Security.Cryptography;
using System.Text;
using FlashdutySync.Sync;
using FlashdutySync.Tests.Support;
using static FlashdutySync.Tests.Sync.SchemaSyncUnderTest;

namespace FlashdutySync.Tests.Sync;

/// <summary>Schemas keyed by two or three source labels: rows merge, complete and delete like one-label ones.</summary>
public sealed class MultiLabelTests
{
    private static readonly string[] HostEnv = ["host", "env"];

    private static InventoryEvent Provision(string host, string env, string owner, DateTimeOffset at) =>
        Event(EventKind.HostProvisioned, at, ("host", host), ("env", env), ("owner", owner), ("team", "sre"));

    private static InventoryEvent Decommission(string host, DateTimeOffset at) => Event(EventKind.HostDecommissioned, at, ("host", host));

    private static string Opaque(string joined) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined)))[..24];

    private static Dictionary<string, string> Row(string host, string env, string owner) => new() { ["host"] = host, ["env"] = env, ["owner"] = owner, ["team"] = "sre" };

    [Fact]
    public async Task DecommissionNamingOnlyTheHost_DeletesEveryRowOfThatHost_WithKeysLearntFromDataList()
    {
        var api = new FakeMappingApi { Spell = Opaque };
        await using var sync = new SchemaSyncUnderTest(api, HostEnv);
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "alice", T0)), sync.Apply(Provision("a", "stage", "alice", T0)),
            sync.Apply(Provision("b", "prod", "bob", T0))]);
        Assert.Equal(3, api.Rows.Count);

        var outcome = (await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(1)))]))[0];

        Assert.Equal(OutcomeKind.Applied, outcome.Kind);
        var left = Assert.Single(api.Rows.Values);
        Assert.Equal("b", left["host"]);
        // The opaque keys cannot be derived from the upsert's answer: each deleted row's key was asked of data/list.
        Assert.Equal(2, api.FindKeyCalls);
        Assert.Equal(new[] { Opaque("a,prod"), Opaque("a,stage") }.Order(), Assert.Single(api.Deletes).Order());
    }

    [Fact]
    public async Task DriftRepair_RewritesTheRowsEventsSet_AndLeavesRowsAddedInTheConsole_AlsoOfAHostOnceDecommissioned()
    {
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv);
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "alice", T0)), sync.Apply(Provision("b", "prod", "bob", T0))]);
        await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(1)))]);
        // Someone edits b's row and adds rows in the console: one for the host decommissioned once (it may be provisioned
        // again since: not the service's to delete), one for a host no event named.
        api.Rows["b,prod"] = Row("b", "prod", "mallory");
        api.Rows["a,stage"] = Row("a", "stage", "mallory");
        api.Rows["c,prod"] = Row("c", "prod", "carol");

        var dry = await sync.Sync.ReconcileAsync(dryRun: true, CancellationToken.None);
        Assert.Equal((0, 1, 0, 2), (dry.NotGone, dry.Differing, dry.Missing, dry.Foreign));
        Assert.Equal(["b,prod: owner is 'mallory', should be 'bob'"], dry.Differences);
        Assert.Equal("mallory", api.Rows["b,prod"]["owner"]);

        await sync.Sync.ReconcileAsync(dryRun: false, CancellationToken.None);
        await Eventually.UntilAsync(() => api.Rows["b,prod"]["owner"] == "bob", TimeSpan.FromSeconds(10), "b's row repaired");
        Assert.Equal(["a,stage", "b,prod", "c,prod"], api.Rows.Keys.Order());
        Assert.Empty(api.Deletes.Skip(1)); // only the decommission's own
    }

    [Fact]
    public async Task ARefusedRepair_KeepsTheRowTheEventsSet_SoTheNextRunWritesIt()
    {
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv);
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "alice", T0))]);
        api.Rows.Clear(); // lost behind the service's back
        api.Refuses = doc => doc["owner"] == "alice";

        await sync.Sync.ReconcileAsync(dryRun: false, CancellationToken.None);
        await Eventually.UntilAsync(() => api.Upserts.Count >= 2, TimeSpan.FromSeconds(10), "the repair tried");
        api.Refuses = _ => false;
        var again = await sync.Sync.ReconcileAsync(dryRun: false, CancellationToken.None);

        Assert.Equal(1, again.Missing);
        await Eventually.UntilAsync(() => api.Rows.GetValueOrDefault("a,prod")?["owner"] == "alice", TimeSpan.FromSeconds(10), "the row written by the next run");
    }

    [Fact]
    public async Task UpsertAnswerThatProvesTheSpelling_IsUsedForDeletes_WithoutDataList()
    {
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv);
        await sync.SettleAsync([sync.Apply(Provision("a", "prod", "alice", T0)), sync.Apply(Provision("a", "stage", "alice", T0))]);

        await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(1)))]);

        Assert.Empty(api.Rows);
        Assert.Equal(0, api.FindKeyCalls);
    }

    [Fact]
    public async Task OlderProvisionOfANewCombination_ConsumedAfterTheHostsDecommission_DoesNotCreateIt()
    {
        var api = new FakeMappingApi();
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice")]);
        await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(5)))]);

        await sync.SettleAsync([sync.Apply(Provision("a", "dev", "old", T0.AddMinutes(1))), sync.Apply(Provision("a", "prod", "old", T0.AddMinutes(2)))]);
        Assert.Empty(api.Rows);

        await sync.SettleAsync([sync.Apply(Provision("a", "dev", "new", T0.AddMinutes(6)))]);
        Assert.Equal("new", Assert.Single(api.Rows.Values)["owner"]);
    }

    /// <summary>One term in which host a, holding <paramref name="rows"/>, is decommissioned at T0 + 5 min: what it journaled.</summary>
    private static async Task<JournalState> JournaledDecommissionAsync(FakeMappingApi api, Dictionary<string, string>[] rows)
    {
        var journal = new JournalState();
        await using var first = new SchemaSyncUnderTest(api, HostEnv, rows);
        await first.SettleAsync([first.Apply(Decommission("a", T0.AddMinutes(5)))]);
        foreach (var entry in first.Sync.TakeJournalEntries()) journal.Merge(entry);
        return journal;
    }

    [Fact]
    public async Task OlderProvisionOfANewCombination_AfterARestartPastTheHostsDecommission_DoesNotCreateIt()
    {
        // Given a host decommissioned in one term, its rows journaled (and gone from Flashduty)
        var api = new FakeMappingApi();
        var journal = await JournaledDecommissionAsync(api, [Row("a", "prod", "alice")]);

        Assert.Empty(api.Rows);

        // When the next term starts from the journal and an older event for another combination of the host arrives
        await using var next = new SchemaSyncUnderTest(api, HostEnv);
        next.Sync.Load([], journal.Schemas[next.Sync.Schema.SchemaId]);
        await next.SettleAsync([next.Apply(Provision("a", "dev", "old", T0.AddMinutes(1)))]);

        // Then it creates nothing, as in the term that saw the decommission; a newer one does
        Assert.Empty(api.Rows);
        await next.SettleAsync([next.Apply(Provision("a", "dev", "new", T0.AddMinutes(6)))]);
        Assert.Equal("new", Assert.Single(api.Rows.Values)["owner"]);
    }

    [Fact]
    public async Task DecommissionOfAHostWithNoRows_SurvivesARestart_AnOlderProvisionAfterItCreatesNothing()
    {
        // Given a decommission of a host that has no row yet (it overtook the host's provisioning), journaled
        var api = new FakeMappingApi();
        var journal = await JournaledDecommissionAsync(api, []);

        // When the next term starts from the journal and the older provisioning arrives
        await using var next = new SchemaSyncUnderTest(api, HostEnv);
        // (its tombstone under a journal schema id of its own: no row of the schema, and unseen by a version that knows nothing of it)
        Assert.False(journal.Schemas.ContainsKey(next.Sync.Schema.SchemaId));
        next.Sync.Load([], journal.For(next.Sync.Schema.SchemaId), journal.For(SchemaSync.TombstonesOf(next.Sync.Schema.SchemaId)));
        await next.SettleAsync([next.Apply(Provision("a", "prod", "old", T0.AddMinutes(1)))]);

        // Then it creates nothing, as in the term that saw the decommission; a newer one does, and the journal's
        // tombstone is no row of its own
        Assert.Empty(api.Rows);
        Assert.Equal(0, next.Sync.ProjectedRows);
        await next.SettleAsync([next.Apply(Provision("a", "prod", "new", T0.AddMinutes(6)))]);
        Assert.Equal("new", Assert.Single(api.Rows.Values)["owner"]);
    }

    [Fact]
    public async Task PartialChangeToADownloadedRow_CompletesIt_AndUpsertsEveryLabel()
    {
        var api = new FakeMappingApi { Spell = Opaque };
        await using var sync = new SchemaSyncUnderTest(api, HostEnv, [Row("a", "prod", "alice")]);

        var outcome = (await sync.SettleAsync([sync.Apply(Event(EventKind.OwnerChanged, T0, ("host", "a"), ("env", "prod"), ("owner", "bob")))]))[0];

        Assert.Equal(OutcomeKind.Applied, outcome.Kind);
        var doc = Assert.Single(Assert.Single(api.Upserts));
        Assert.Equal(Row("a", "prod", "bob"), doc);
    }

    [Fact]
    public async Task ThreeSourceLabels_MergeAndDeleteByHost()
    {
        var api = new FakeMappingApi { Spell = Opaque };
        string[] labels = ["host", "env", "region"];
        await using var sync = new SchemaSyncUnderTest(api, labels);
        await sync.SettleAsync([sync.Apply(Event(EventKind.HostProvisioned, T0, ("host", "a"), ("env", "prod"), ("region", "eu"), ("owner", "o"), ("team", "t"))),
            sync.Apply(Event(EventKind.HostProvisioned, T0, ("host", "a"), ("env", "prod"), ("region", "us"), ("owner", "o"), ("team", "t")))]);
        Assert.Equal(2, api.Rows.Count);

        await sync.SettleAsync([sync.Apply(Decommission("a", T0.AddMinutes(1)))]);

        Assert.Empty(api.Rows);
    }
}
