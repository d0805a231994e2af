using System.Net;
using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Integration;

/// <summary>What the real Flashduty may do that the service must live with: schemas that go, values it counts in bytes, keys of several labels.</summary>
[Collection(BrokerCollection.Name)]
public sealed class RealApiTests(RabbitMqFixture broker)
{
    private const string HostEnvSchema = ReadingsMatrixTests.HostEnvSchema;
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static HttpClient Health(WebApplication app) => new() { BaseAddress = new Uri($"http://127.0.0.1:{new Uri(app.Urls.First()).Port}") };

    private static Task ReadyAsync(HttpClient http, HttpStatusCode status, string what) =>
        Eventually.UntilAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == status, Deadline, what);

    [Theory]
    [InlineData(MissingSchemaCode.InvalidParameter)]
    [InlineData(MissingSchemaCode.ResourceNotFound)]
    public async Task SchemaDeletedWhileRunning_PausesThatSchemaOnly_SetsNothingAside_AndResumesWhenItIsBack(MissingSchemaCode code)
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Readings = o.Readings with { MissingSchemaCode = code });
        var app = await h.StartServiceAsync();
        using var http = Health(app);
        await ReadyAsync(http, HttpStatusCode.OK, "readiness once started");

        h.Simulator.State.RemoveSchema(SyncHarness.ServiceSchema);
        await h.ProvisionAsync("web-1", "alice", "sre", "checkout", T0);
        await ReadyAsync(http, HttpStatusCode.ServiceUnavailable, "readiness to fail");
        Assert.Contains("no longer exists", await (await http.GetAsync("/health/ready")).Content.ReadAsStringAsync());
        // The host schema is not held back by the other one.
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"), Deadline, "web-1 in the host schema");
        Assert.Equal(0u, await h.CountAsync(h.ErrorQueue));

        h.Simulator.State.AddSchema(SyncHarness.ServiceSchema, "service_owner", ["service"], ["owner", "team"]);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.ServiceSchema).ContainsKey("checkout"), Deadline, "the service row once the schema is back");
        await ReadyAsync(http, HttpStatusCode.OK, "readiness to recover");
        await h.DrainedAsync(Deadline);
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task SchemaMissingAtStart_IsNotLoaded_TheOthersSync_AndItLoadsOnceCreated()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Simulator.State.RemoveSchema(SyncHarness.ServiceSchema);
        var app = await h.StartServiceAsync();
        using var http = Health(app);
        await h.ProvisionAsync("web-1", "alice", "sre", "checkout", T0);

        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"), Deadline, "web-1 in the host schema");
        var why = await (await http.GetAsync("/health/ready")).Content.ReadAsStringAsync();
        Assert.Contains($"schema {SyncHarness.ServiceSchema} is not loaded", why);

        h.Simulator.State.AddSchema(SyncHarness.ServiceSchema, "service_owner", ["service"], ["owner", "team"]);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.ServiceSchema).ContainsKey("checkout"), Deadline, "the event applied once the schema exists");
        await ReadyAsync(http, HttpStatusCode.OK, "readiness");
        await h.DrainedAsync(Deadline);
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Theory]
    [InlineData(ValueLimitUnit.Utf8Bytes, true)]
    [InlineData(ValueLimitUnit.Characters, false)]
    public async Task LongMultiByteValue_RefusedWhenTheServerCountsBytes_CostsOnlyItsOwnEvent(ValueLimitUnit unit, bool refused)
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Readings = o.Readings with { ValueLimitUnit = unit });
        await h.StartServiceAsync();
        var wide = new string('漢', 1000); // 1,000 characters, 3,000 UTF-8 bytes
        for (var i = 0; i < 30; i++) await h.ProvisionAsync($"h{i}", i == 7 ? wide : "alice", "sre", $"svc{i}", T0, eventId: $"ev-{i}");

        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == (refused ? 29 : 30), Deadline, "the rows that fit");
        await h.DrainedAsync(Deadline);
        await h.AssertNothingLeftAsync();
        var errors = await h.DrainErrorQueueAsync();
        if (!refused)
        {
            Assert.Empty(errors);
            return;
        }

        var (_, headers) = Assert.Single(errors);
        Assert.Equal("refused-by-flashduty", headers["x-sync-reason-code"]);
        Assert.Contains("ev-7", headers["MT-Fault-Message"]);
        Assert.False(h.Rows(SyncHarness.HostSchema).ContainsKey("h7"));
    }

    [Fact]
    public async Task TwoLabelSchema_AfterARestart_ADecommissionedHostsOlderProvisionDoesNotComeBack_ANewerOneDoes()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Simulator.State.AddSchema(HostEnvSchema, "host_env_owner", ["host", "env"], ["owner"]);
        h.Settings["Flashduty:SchemaIds:2"] = HostEnvSchema;
        var first = await h.StartServiceAsync();
        await Provision("web-1", "prod", "alice", T0);
        await Provision("web-1", "stage", "alice", T0);
        await Eventually.UntilAsync(() => h.Rows(HostEnvSchema).Count == 2, Deadline, "two rows of web-1");
        await h.DecommissionAsync("web-1", T0.AddMinutes(10));
        await Eventually.UntilAsync(() => h.Rows(HostEnvSchema).Count == 0, Deadline, "web-1's rows deleted");
        await h.DrainedAsync(Deadline);
        await h.StopServiceAsync(first);

        await h.StartServiceAsync();
        await Provision("web-1", "prod", "zombie", T0.AddMinutes(5));
        await Provision("web-2", "prod", "bob", T0.AddMinutes(5));
        await Eventually.UntilAsync(() => h.Rows(HostEnvSchema).Count == 1, Deadline, "web-2's row");
        await Provision("web-1", "prod", "carol", T0.AddMinutes(20));
        await Eventually.UntilAsync(() => h.Rows(HostEnvSchema).Values.Any(r => r["owner"] == "carol"), Deadline, "web-1 back, newer");
        await h.DrainedAsync(Deadline);

        Assert.Equal(["bob", "carol"], h.Rows(HostEnvSchema).Values.Select(r => r["owner"]).Order());
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());

        Task Provision(string host, string env, string owner, DateTimeOffset at) =>
            h.PublishRawAsync(InventoryExchanges.HostProvisioned, new { host, owner, team = "sre", service = "api", labels = new { env }, occurredAt = at });
    }
}
