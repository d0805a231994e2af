using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Tests.Integration;

/// <summary>A schema whose labels are not the events' names, filled through its mapping, end to end against the simulator.</summary>
[Collection(BrokerCollection.Name)]
public sealed class LabelMappingTests(RabbitMqFixture broker)
{
    public const string HostnameSchema = "665f1a2b3c4d5e6f7a8b9c04";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>Adds the schema keyed by hostname, owner_email from labels.email, source constant 'cmdb', beside the harness's two.</summary>
    internal static void AddHostnameSchema(SyncHarness h)
    {
        h.Simulator.State.AddSchema(HostnameSchema, "hostname_owner", ["hostname"], ["owner_email", "team", "source"]);
        h.Settings["Flashduty:Schemas:0:Id"] = HostnameSchema;
        h.Settings["Flashduty:Schemas:0:Labels:hostname"] = "host";
        h.Settings["Flashduty:Schemas:0:Labels:owner_email"] = "labels.email";
        h.Settings["Flashduty:Schemas:0:Constants:source"] = "cmdb";
    }

    private static Task OwnerChangedAsync(SyncHarness h, string host, string owner, string email, DateTimeOffset at) =>
        h.PublishRawAsync(InventoryExchanges.OwnerChanged, new { host, owner, labels = new { email }, occurredAt = at });

    [Fact]
    public async Task ASchemaKeyedByHostname_WithOwnerEmailFromALabelAndAConstant_GetsCompleteRows_DecommissionsDeleteThem_AndAStaleEventAfterARestartChangesNothing()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        AddHostnameSchema(h);
        var first = await h.StartServiceAsync();
        await h.ProvisionAsync("web-1", "alice", "sre", "checkout", T0, new { email = "alice@example.com" });
        await h.ProvisionAsync("web-2", "carol", "sre", "checkout", T0, new { email = "carol@example.com" });
        await OwnerChangedAsync(h, "web-1", "bob", "bob@example.com", T0.AddMinutes(10));
        await h.DecommissionAsync("web-2", T0.AddMinutes(10));
        await Eventually.UntilAsync(() => h.Rows(HostnameSchema).TryGetValue("web-1", out var r) && r["owner_email"] == "bob@example.com" &&
                                          !h.Rows(HostnameSchema).ContainsKey("web-2"), Deadline, () => "bob's row and web-2 deleted: " + Dump(h));
        await h.DrainedAsync(Deadline);
        Assert.Equal(new Dictionary<string, string> { ["hostname"] = "web-1", ["owner_email"] = "bob@example.com", ["team"] = "sre", ["source"] = "cmdb" },
            h.Rows(HostnameSchema)["web-1"]);
        // The by-name schema beside it is filled as before, from the same events.
        Assert.Equal("bob", h.Rows(SyncHarness.HostSchema)["web-1"]["owner"]);
        Assert.False(h.Rows(SyncHarness.HostSchema).ContainsKey("web-2"));
        await h.StopServiceAsync(first);

        // A new process: it knows the mapped rows only from Flashduty and the journal.
        await h.StartServiceAsync();
        var upserts = h.Simulator.State.Stats.Requests("data/upsert", schemaId: HostnameSchema);
        await OwnerChangedAsync(h, "web-1", "stale", "stale@example.com", T0.AddMinutes(5));             // older than bob
        await h.ProvisionAsync("web-2", "zombie", "sre", "checkout", T0.AddMinutes(5), new { email = "z@example.com" }); // older than the decommission
        await OwnerChangedAsync(h, "web-1", "dave", "dave@example.com", T0.AddMinutes(20));              // newer: applies
        await Eventually.UntilAsync(() => h.Rows(HostnameSchema)["web-1"]["owner_email"] == "dave@example.com", Deadline, () => "dave's change: " + Dump(h));
        await h.DrainedAsync(Deadline);
        Assert.False(h.Rows(HostnameSchema).ContainsKey("web-2"), "a provision older than the decommission brought the row back");
        Assert.Equal(upserts + 1, h.Simulator.State.Stats.Requests("data/upsert", schemaId: HostnameSchema));
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task MappedRowsJournaledWhileFlashdutyIsDown_AreWrittenByTheNextProcess()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        AddHostnameSchema(h);
        var first = await h.StartServiceAsync();
        await h.ProvisionAsync("h-first", "o", "t", "s", T0, new { email = "o@example.com" });
        await Eventually.UntilAsync(() => h.Rows(HostnameSchema).ContainsKey("h-first"), Deadline, "the first row");
        h.Simulator.State.Faults = new FaultOptions { ServerErrorRate = 1.0, Seed = 3 };
        for (var i = 0; i < 20; i++) await h.ProvisionAsync($"web-{i}", "alice", "sre", "api", T0.AddMinutes(1), new { email = $"a{i}@example.com" });
        await h.DrainedAsync(Deadline); // acknowledged once journaled, though every write fails
        Assert.Equal(["h-first"], h.Rows(HostnameSchema).Keys);
        await h.StopServiceAsync(first);

        h.Simulator.State.Faults = new FaultOptions();
        await h.StartServiceAsync();
        await Eventually.UntilAsync(() => h.Rows(HostnameSchema).Count == 21, Deadline, () => "the journaled rows: " + Dump(h));
        Assert.Equal("a7@example.com", h.Rows(HostnameSchema)["web-7"]["owner_email"]);
        Assert.Equal("cmdb", h.Rows(HostnameSchema)["web-7"]["source"]);
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task AMappingNamingALabelTheSchemaLacks_RefusesTheStart_NamingTheSchemaAndTheLabel()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        AddHostnameSchema(h);
        h.Settings["Flashduty:Schemas:0:Labels:ownr_email"] = "labels.email"; // a typo: the schema has owner_email

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => h.StartServiceAsync());

        Assert.Contains($"Flashduty:Schemas:0:Labels:ownr_email: schema {HostnameSchema} has no label 'ownr_email' (its labels: hostname, owner_email, team, source)",
            refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, h.Simulator.State.Stats.Requests("data/upsert"));
    }

    [Fact]
    public async Task AMappedFieldNoFeedingEventCarries_RefusesTheStart_NamingTheSchemaAndTheLabel()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        AddHostnameSchema(h);
        h.Settings["Flashduty:Schemas:0:Labels:team"] = "team";
        h.Settings["Flashduty:Schemas:0:Events:0"] = "OwnerChanged"; // OwnerChanged has no team

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => h.StartServiceAsync());

        Assert.Contains($"Flashduty:Schemas:0 (schema {HostnameSchema}): label 'team' is mapped to the field 'team', which none of the events feeding the schema (OwnerChanged) carries",
            refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALabelOnlyAnUnconfiguredLabelsEntryFills_IsAWarningAtStart_NamingTheSchemaAndTheLabel()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        AddHostnameSchema(h);
        h.Settings.Remove("Flashduty:Schemas:0:Labels:owner_email"); // by name now: only labels.owner_email fills it
        h.Settings["Logging:LogLevel:Default"] = "Information";
        var logs = new CapturingLoggerProvider();

        await h.StartServiceAsync(b => b.Logging.AddProvider(logs));

        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) &&
                                         l.Contains($"schema {HostnameSchema}: label 'owner_email' is filled by no event field, only by labels.owner_email", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains($"Schema {HostnameSchema} is filled through its mapping (Flashduty:Schemas:0): hostname ← host, source = 'cmdb'", StringComparison.Ordinal));
        // It still works for publishers that send the label.
        await h.ProvisionAsync("web-1", "alice", "sre", "checkout", T0, new { owner_email = "alice@example.com" });
        await Eventually.UntilAsync(() => h.Rows(HostnameSchema).ContainsKey("web-1"), Deadline, () => "web-1: " + Dump(h));
    }

    private static string Dump(SyncHarness h) =>
        string.Join("; ", h.Rows(HostnameSchema).Select(r => r.Key + "=" + string.Join(",", r.Value.Values))) +
        $" (upserts {h.Simulator.State.Stats.Requests("data/upsert")}, deletes {h.Simulator.State.Stats.Requests("data/delete")})";
}
