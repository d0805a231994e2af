using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// The key scenarios under every reading of Flashduty's ambiguous reference that the simulator can play: rows that
/// already exist are loaded and completed by partial changes, a decommission deletes every row of its host (also in a
/// schema keyed by host and env), a poison row costs only its own event.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ReadingsMatrixTests(RabbitMqFixture broker)
{
    public const string HostEnvSchema = "665f1a2b3c4d5e6f7a8b9c03";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Readings => new(ReadingCases.Names);

    [Theory]
    [MemberData(nameof(Readings))]
    public async Task KeyScenarios_WorkUnderEveryReading(string reading)
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Readings = ReadingCases.Apply(reading, o.Readings));
        h.Simulator.State.AddSchema(HostEnvSchema, "host_env_owner", ["host", "env"], ["owner"]);
        h.Settings["Flashduty:SchemaIds:2"] = HostEnvSchema;
        // Rows that exist before the service starts: partial changes must complete them, not wait for ever.
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, Enumerable.Range(0, 20).Select(i => Row(("host", $"h{i}"), ("owner", "old"), ("team", "sre"), ("service", $"svc{i}"))));
        h.Simulator.State.SeedRows(HostEnvSchema, Enumerable.Range(0, 5).SelectMany(i => new[]
        {
            Row(("host", $"h{i}"), ("env", "prod"), ("owner", "old")), Row(("host", $"h{i}"), ("env", "stage"), ("owner", "old")),
        }));
        h.Simulator.State.Faults = new FaultOptions { RejectValue = "poison" };
        await h.StartServiceAsync();

        for (var i = 0; i < 20; i++) await h.OwnerChangedAsync($"h{i}", $"new{i}", T0.AddMinutes(1));
        await h.PublishRawAsync(InventoryExchanges.OwnerChanged, new { host = "h0", owner = "env-owner", labels = new { env = "prod" }, occurredAt = T0.AddSeconds(30) });
        await h.DecommissionAsync("h1", T0.AddMinutes(2));
        await h.ProvisionAsync("h-bad", "poison", "sre", "svc-bad", T0, eventId: "ev-poison");
        await h.ProvisionAsync("h-good", "fine", "sre", "svc-good", T0);

        await Eventually.UntilAsync(() => Expected(h.Rows(SyncHarness.HostSchema), h.Rows(HostEnvSchema)) is null, Deadline,
            () => $"rows under {reading}: {Expected(h.Rows(SyncHarness.HostSchema), h.Rows(HostEnvSchema))}");
        await h.DrainedAsync(Deadline);
        await h.AssertNothingLeftAsync();
        var error = Assert.Single(await h.DrainErrorQueueAsync());
        Assert.Equal("refused-by-flashduty", error.Headers["x-sync-reason-code"]);
        Assert.Equal("InvalidParameter", error.Headers["x-flashduty-error-code"]);
        Assert.False(string.IsNullOrEmpty(error.Headers["x-flashduty-request-id"]));
        Assert.Contains("ev-poison", error.Headers["MT-Fault-Message"]);
    }

    /// <summary>Null when the rows are what the events make them, else what differs.</summary>
    private static string? Expected(Dictionary<string, IReadOnlyDictionary<string, string>> hosts, Dictionary<string, IReadOnlyDictionary<string, string>> hostEnv)
    {
        var byHost = hosts.Values.ToDictionary(r => r["host"]);
        var problems = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var present = byHost.TryGetValue($"h{i}", out var row);
            if (i == 1 && present) problems.Add("h1 not deleted");
            if (i != 1 && (!present || row!["owner"] != $"new{i}" || row["service"] != $"svc{i}")) problems.Add($"h{i}: {(present ? row!["owner"] : "missing")}");
        }

        if (!byHost.TryGetValue("h-good", out var good) || good["owner"] != "fine") problems.Add("h-good missing");
        if (byHost.ContainsKey("h-bad")) problems.Add("h-bad written");
        var envRows = hostEnv.Values.ToDictionary(r => $"{r["host"]}/{r["env"]}", r => r["owner"]);
        var wanted = Enumerable.Range(0, 5).Where(i => i != 1).SelectMany(i => new[] { $"h{i}/prod", $"h{i}/stage" })
            .ToDictionary(k => k, k => k == "h0/prod" ? "env-owner" : "old");
        if (!wanted.OrderBy(kv => kv.Key).SequenceEqual(envRows.OrderBy(kv => kv.Key)))
            problems.Add("host_env rows: " + string.Join(" ", envRows.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}")));
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    private static Dictionary<string, string> Row(params (string Label, string Value)[] labels) => labels.ToDictionary(l => l.Label, l => l.Value);
}
