using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Integration;

[Collection(BrokerCollection.Name)]
public sealed class HardCaseTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task OwnerChangedBeforeItsHostIsProvisioned_WaitsInTheBroker_ThenTheRowAppearsWithTheNewOwner()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        await h.OwnerChangedAsync("web-1", "bob", T0.AddMinutes(1));
        await Eventually.UntilAsync(async () => await h.CountAsync(h.WaitQueue) == 1, TimeSpan.FromSeconds(10), "the event to wait in the wait queue");
        Assert.Empty(h.Rows(SyncHarness.HostSchema));

        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);

        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).GetValueOrDefault("web-1")?["owner"] == "bob", TimeSpan.FromSeconds(20), "web-1 owned by bob");
        await h.DrainedAsync(TimeSpan.FromSeconds(20));
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());
        Assert.Equal("alice", h.Rows(SyncHarness.ServiceSchema)["api"]["owner"]);
    }

    [Fact]
    public async Task IncompleteRow_PastTheMaximumWait_GoesToTheErrorQueue_NamingSchemaKeyAndMissingLabels()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Sync:MaxIncompleteWait"] = "00:00:01";
        await h.StartServiceAsync();
        await h.ProvisionAsync("web-2", "alice", team: null, service: null, T0, eventId: "ev-42");

        await Eventually.UntilAsync(async () => await h.CountAsync(h.ErrorQueue) == 1, TimeSpan.FromSeconds(20), "the event in the error queue");
        var (_, headers) = Assert.Single(await h.DrainErrorQueueAsync());
        Assert.Equal("incomplete-row", headers["x-sync-reason-code"]);
        Assert.Contains("HostProvisioned of host 'web-2' (eventId ev-42)", headers["MT-Fault-Message"]);
        Assert.Contains($"row 'web-2' of schema {SyncHarness.HostSchema} misses labels team, service", headers["MT-Fault-Message"]);
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(h.Rows(SyncHarness.HostSchema));
    }

    [Fact]
    public async Task BadMessages_GoToTheErrorQueueNamingTheField_AndTheRestOfTheBatchIsApplied()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        var p = InventoryExchanges.HostProvisioned;
        await h.PublishRawAsync(p, "{ this is not json");
        await h.PublishRawAsync(p, new { owner = "x", occurredAt = T0, eventId = "no-host" });
        await h.PublishRawAsync(p, new { host = "a", owner = "x", eventId = "no-time" });
        await h.PublishRawAsync(p, new { host = "a", owner = "x", occurredAt = "yesterday-ish", eventId = "bad-time" });
        await h.PublishRawAsync(p, new { host = "a", owner = "x", occurredAt = T0, labels = new { rack = 12 }, eventId = "number-label" });
        await h.PublishRawAsync(p, new { host = "a", owner = "x", occurredAt = T0, labels = new Dictionary<string, string> { ["Rack-1"] = "r" }, eventId = "bad-name" });
        await h.PublishRawAsync(p, new { host = "a", owner = new string('x', 2049), team = "t", service = "s", occurredAt = T0, eventId = "too-long" });
        await h.PublishRawAsync(p, new { host = "", owner = "x", occurredAt = T0, eventId = "empty-host" });
        await h.PublishRawAsync(p, new { host = "a", owner = "x", occurredAt = T0, labels = new Dictionary<string, string?> { ["rack"] = null }, eventId = "null-label" });
        await h.PublishRawAsync(p, new { host = "a", owner = "x", occurredAt = "2026-11-26 10:00:00Z", eventId = "space-time" });
        await h.ProvisionAsync("good-1", "alice", "sre", "api", T0);
        await h.ProvisionAsync("good-2", "bob", "sre", "api", T0);

        await Eventually.UntilAsync(async () => await h.CountAsync(h.ErrorQueue) == 10, TimeSpan.FromSeconds(20), "ten events in the error queue");
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 2, TimeSpan.FromSeconds(20), "the two good rows");
        var reasons = (await h.DrainErrorQueueAsync()).Select(e => e.Headers["MT-Fault-Message"]).ToList();

        Assert.Contains(reasons, r => r.StartsWith("HostProvisioned: the body is not valid JSON", StringComparison.Ordinal));
        Assert.Contains("HostProvisioned (eventId no-host): field 'host' is required", reasons);
        Assert.Contains("HostProvisioned (eventId no-time): field 'occurredAt' is required", reasons);
        Assert.Contains("HostProvisioned (eventId bad-time): field 'occurredAt' 'yesterday-ish' is not an RFC 3339 timestamp", reasons);
        Assert.Contains("HostProvisioned (eventId number-label): field 'labels.rack' must be a string, not Number", reasons);
        Assert.Contains("HostProvisioned (eventId empty-host): field 'host' is empty", reasons);
        Assert.Contains("HostProvisioned (eventId null-label): field 'labels.rack' must be a string, not Null", reasons);
        Assert.Contains("HostProvisioned (eventId space-time): field 'occurredAt' '2026-11-26 10:00:00Z' is not an RFC 3339 timestamp", reasons);
        Assert.Contains(reasons, r => r.Contains("labels.Rack-1") && r.Contains("bad-name"));
        Assert.Contains(reasons, r => r.Contains("field 'owner' is 2049 characters long") && r.Contains("too-long"));
        Assert.Equal(0, h.Simulator.State.Stats.Requests("data/upsert", status: 400));
    }

    [Fact]
    public async Task PoisonRow_RefusedByFlashduty_IsIsolated_OnlyItsEventIsSetAsideWithCodeMessageAndRequestId()
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Faults = new FaultOptions { RejectValue = "forbidden-owner" });
        for (var i = 0; i < 40; i++) await h.ProvisionAsync($"h{i:00}", i == 17 ? "forbidden-owner" : "ok", "sre", $"svc-{i}", T0, eventId: $"e{i}");
        await h.StartServiceAsync();

        await Eventually.UntilAsync(async () => await h.CountAsync(h.ErrorQueue) >= 1 && h.Rows(SyncHarness.HostSchema).Count == 39,
            TimeSpan.FromSeconds(30), "39 rows and one event set aside");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        var errors = await h.DrainErrorQueueAsync();

        // The event feeds both schemas and is refused by both: it is set aside once.
        var (body, headers) = Assert.Single(errors);
        Assert.Contains("\"eventId\":\"e17\"", body);
        Assert.Equal("refused-by-flashduty", headers["x-sync-reason-code"]);
        Assert.Equal("InvalidParameter", headers["x-flashduty-error-code"]);
        Assert.Contains(h.Simulator.State.Stats.Recent(), r => r.RequestId == headers["x-flashduty-request-id"] && r.Status == 400);
        // Named by whichever schema refused it first (both refuse the same value).
        Assert.Matches("Flashduty refused row '(h17|svc-17)' of schema", headers["MT-Fault-Message"]);
        Assert.False(h.Rows(SyncHarness.HostSchema).ContainsKey("h17"));
        var refused = h.Simulator.State.Stats.Requests("data/upsert", status: 400, schemaId: SyncHarness.HostSchema);
        Assert.True(refused <= 2 * 6 + 1, $"{refused} refused upserts to isolate one row of 40");
    }

    [Fact]
    public async Task ReadOnlyKey_PausesTheServiceWithoutDeadLettering_ThenEveryEventIsAppliedOnceFixed()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var app = await h.StartServiceAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{new Uri(app.Urls.First()).Port}") };
        await Eventually.UntilAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == System.Net.HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "readiness once started");

        h.Simulator.State.SetKey(SyncHarness.AppKey, readOnly: true);
        for (var i = 0; i < 30; i++) await h.ProvisionAsync($"h{i}", "alice", "sre", "api", T0);
        await Eventually.UntilAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == System.Net.HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(20), "readiness to fail");
        var ready = await http.GetStringAsync("/health/live");
        Assert.Equal("Healthy", ready);
        Assert.Equal(0u, await h.CountAsync(h.ErrorQueue));
        Assert.Empty(h.Rows(SyncHarness.HostSchema));

        h.Simulator.State.SetKey(SyncHarness.AppKey, readOnly: false);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 30, TimeSpan.FromSeconds(20), "all rows after the fix");
        await Eventually.UntilAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == System.Net.HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "readiness to recover");
        await h.DrainedAsync(TimeSpan.FromSeconds(20));
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task Decommission_DeletesTheHostRow_AnOlderProvisionDoesNotResurrectIt_ANewerOneDoes()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);
        await h.ProvisionAsync("web-2", "bob", "sre", "api", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 2, TimeSpan.FromSeconds(20), "two rows");

        await h.DecommissionAsync("web-1", T0.AddMinutes(10));
        await Eventually.UntilAsync(() => !h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"), TimeSpan.FromSeconds(20), "web-1 deleted");
        await h.ProvisionAsync("web-1", "zombie", "sre", "api", T0.AddMinutes(5));
        await h.ProvisionAsync("web-3", "carol", "sre", "api", T0.AddMinutes(6));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-3"), TimeSpan.FromSeconds(20), "web-3");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        Assert.False(h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"));

        await h.ProvisionAsync("web-1", "dave", "sre", "api", T0.AddMinutes(20));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).GetValueOrDefault("web-1")?["owner"] == "dave", TimeSpan.FromSeconds(20), "web-1 re-created");
        Assert.Equal(1, h.Simulator.State.Stats.Requests("data/delete", status: 200));
        Assert.True(h.Rows(SyncHarness.ServiceSchema).ContainsKey("api"), "the service schema is keyed by service: a host's decommission leaves it");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task RowCap_ANewKeyPastTheCapIsSetAsideNamingSchemaAndCap_UpdatesGoOn()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings[$"Flashduty:RowCaps:{SyncHarness.HostSchema}"] = "3";
        await h.StartServiceAsync();
        for (var i = 0; i < 3; i++) await h.ProvisionAsync($"h{i}", "alice", "sre", "api", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 3, TimeSpan.FromSeconds(20), "three rows");

        await h.ProvisionAsync("h3", "alice", "sre", "api", T0);
        await h.OwnerChangedAsync("h0", "bob", T0.AddMinutes(1));
        await Eventually.UntilAsync(async () => await h.CountAsync(h.ErrorQueue) == 1, TimeSpan.FromSeconds(20), "the fourth key set aside");
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema)["h0"]["owner"] == "bob", TimeSpan.FromSeconds(20), "the update");

        var (_, headers) = Assert.Single(await h.DrainErrorQueueAsync());
        Assert.Equal("row-cap", headers["x-sync-reason-code"]);
        Assert.Contains($"schema {SyncHarness.HostSchema} is full: it holds its cap of 3 rows", headers["MT-Fault-Message"]);
        Assert.Equal(3, h.Rows(SyncHarness.HostSchema).Count);
    }

    [Fact]
    public async Task SchemaDeletedWhileRunning_PausesItsWritesWithoutDeadLettering_AndResumesWhenItIsBack()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        var schema = h.Simulator.State.GetSchema(SyncHarness.HostSchema)!;
        h.Simulator.State.RemoveSchema(SyncHarness.HostSchema);

        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.ServiceSchema).ContainsKey("api"), TimeSpan.FromSeconds(20), "the other schema still written");
        await Eventually.UntilAsync(() => h.Simulator.State.Stats.Requests("schema/info", schemaId: SyncHarness.HostSchema) >= 3,
            TimeSpan.FromSeconds(20), "the service to find the schema gone");
        Assert.Equal(0u, await h.CountAsync(h.ErrorQueue));

        h.Simulator.State.AddSchema(SyncHarness.HostSchema, schema.SchemaName, schema.SourceLabels, schema.ResultLabels);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"), TimeSpan.FromSeconds(20), "the row once the schema is back");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(await h.DrainErrorQueueAsync());
    }
}
