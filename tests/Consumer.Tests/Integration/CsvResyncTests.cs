using FlashdutySync.Tests.Support;
using InventoryPublisher;

namespace FlashdutySync.Tests.Integration;

/// <summary>The Publisher's CSV import as a full resync (<c>--prune</c>, <c>--dry-run</c>, the safety limit), end to end against the simulator and the service.</summary>
[Collection(BrokerCollection.Name)]
public sealed class CsvResyncTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset At = new(2026, 11, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>20 hosts in both host-keyed schemas (one by name, one through its mapping) and 3 services in the service-keyed one.</summary>
    private static async Task<SyncHarness> SeededAsync(RabbitMqFixture broker)
    {
        var h = await SyncHarness.CreateAsync(broker);
        LabelMappingTests.AddHostnameSchema(h);
        var hosts = Enumerable.Range(1, 20).Select(i => $"web-{i:00}").ToList();
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, hosts.Select(x => Row(("host", x), ("owner", "old"), ("team", "sre"), ("service", "api"))));
        h.Simulator.State.SeedRows(LabelMappingTests.HostnameSchema, hosts.Select(x => Row(("hostname", x), ("owner_email", "old@example.com"), ("team", "sre"), ("source", "cmdb"))));
        h.Simulator.State.SeedRows(SyncHarness.ServiceSchema, new[] { "api", "db", "web" }.Select(s => Row(("service", s), ("owner", "old"), ("team", "sre"))));
        return h;
    }

    private static Dictionary<string, string> Row(params (string Label, string Value)[] labels) => labels.ToDictionary(l => l.Label, l => l.Value);

    private static string Export(IEnumerable<string> hosts) =>
        "host,owner,team,service,email\n" + string.Concat(hosts.Select(x => $"{x},alice,sre,api,alice@example.com\n"));

    private async Task<(int Exit, string Output)> ImportAsync(SyncHarness h, string csv, bool prune = true, bool dryRun = false, bool force = false)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(h.ServiceSettings()).Build();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CsvResync.RunAsync(new ResyncRequest(new StringReader(csv), "export.csv", At, broker.Uri, prune, dryRun, force, PrunePlan.DefaultMaxShare),
            configuration, output, error, CancellationToken.None);
        var text = output + error.ToString();
        Assert.DoesNotContain(SyncHarness.AppKey, text, StringComparison.Ordinal);
        return (exit, text);
    }

    private static Dictionary<string, Dictionary<string, string>> Snapshot(SyncHarness h) =>
        new[] { SyncHarness.HostSchema, SyncHarness.ServiceSchema, LabelMappingTests.HostnameSchema }
            .ToDictionary(s => s, s => h.Rows(s).ToDictionary(r => r.Key, r => string.Join(",", r.Value.OrderBy(l => l.Key).Select(l => $"{l.Key}={l.Value}"))));

    [Fact]
    public async Task Prune_DeletesExactlyTheHostsMissingFromTheExport_FromEveryHostKeyedSchema_AndLeavesTheOthersAlone()
    {
        await using var h = await SeededAsync(broker);
        await h.StartServiceAsync();
        // web-20 left the CMDB (1 of 20 rows: 5%, under the 10% limit); web-21 is new.
        var export = Enumerable.Range(1, 19).Select(i => $"web-{i:00}").Append("web-21").ToList();

        var (exit, output) = await ImportAsync(h, Export(export));

        Assert.Equal(0, exit);
        Assert.Contains("prune: 1 HostDecommissioned after them, deleting 2 row(s)", output, StringComparison.Ordinal);
        Assert.Contains($"schema {SyncHarness.ServiceSchema} (service_owner): no source label is filled by the host; left alone", output, StringComparison.Ordinal);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Keys.Order().SequenceEqual(export) &&
                                          h.Rows(LabelMappingTests.HostnameSchema).Keys.Order().SequenceEqual(export) &&
                                          h.Rows(SyncHarness.HostSchema).Values.All(r => r["owner"] == "alice"),
            Deadline, () => "the export's hosts exactly: " + string.Join(",", h.Rows(SyncHarness.HostSchema).Keys.Order()) + " / " + string.Join(",", h.Rows(LabelMappingTests.HostnameSchema).Keys.Order()));
        await h.DrainedAsync(Deadline);
        Assert.Equal("alice@example.com", h.Rows(LabelMappingTests.HostnameSchema)["web-21"]["owner_email"]);
        Assert.Equal(["api", "db", "web"], h.Rows(SyncHarness.ServiceSchema).Keys.Order()); // keyed by service: untouched but for api's owner
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task DryRun_PrintsCountsFirstThenTheLines_AndChangesNothing()
    {
        await using var h = await SeededAsync(broker);
        var before = Snapshot(h);
        var export = Enumerable.Range(1, 19).Select(i => $"web-{i:00}").ToList();

        var (exit, output) = await ImportAsync(h, Export(export), dryRun: true);

        Assert.Equal(0, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("import: 19 HostProvisioned from export.csv (dry run: nothing is published or deleted)", lines[0].TrimEnd());
        Assert.Equal("prune: 1 HostDecommissioned after them, deleting 2 row(s)", lines[1].TrimEnd());
        Assert.Contains("keyed by hostname: 20 rows, 1 of them (5%) of 1 host(s) not in the export; limit 10%", output, StringComparison.Ordinal);
        var published = lines.Where(l => l.StartsWith("publish ", StringComparison.Ordinal)).ToList();
        Assert.Equal(20, published.Count);
        Assert.StartsWith("publish inventory.host-decommissioned {\"host\":\"web-20\"", published[^1], StringComparison.Ordinal);
        Assert.Contains($"delete  schema {LabelMappingTests.HostnameSchema}: hostname=web-20 (1 row(s))", output, StringComparison.Ordinal);
        Assert.True(Array.FindIndex(lines, l => l.StartsWith("publish ", StringComparison.Ordinal)) > 1, "the counts come first");

        Assert.Equal(before, Snapshot(h));
        Assert.Equal(0u, await h.CountAsync(h.Queue)); // the service's queue, bound to every inventory exchange, got nothing
        Assert.Equal(0, h.Simulator.State.Stats.Requests("data/upsert") + h.Simulator.State.Stats.Requests("data/delete"));
    }

    [Fact]
    public async Task ATruncatedExport_IsRefusedPastTheSafetyLimit_NothingPublished_AndForcePrunesIt()
    {
        await using var h = await SeededAsync(broker);
        var before = Snapshot(h);
        var truncated = Enumerable.Range(1, 5).Select(i => $"web-{i:00}").ToList(); // 15 of 20 hosts missing: 75%

        var (exit, output) = await ImportAsync(h, Export(truncated));

        Assert.Equal(1, exit);
        Assert.Contains("15 of them (75%) of 15 host(s) not in the export; limit 10%: OVER THE LIMIT", output, StringComparison.Ordinal);
        Assert.Contains("prune refused: it would delete more than 10% of the rows of", output, StringComparison.Ordinal);
        Assert.Contains("nothing was published", output, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(h));
        Assert.Equal(0u, await h.CountAsync(h.Queue)); // not even the import's provisions

        await h.StartServiceAsync();
        var (forced, _) = await ImportAsync(h, Export(truncated), force: true);

        Assert.Equal(0, forced);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Keys.Order().SequenceEqual(truncated) &&
                                          h.Rows(LabelMappingTests.HostnameSchema).Keys.Order().SequenceEqual(truncated),
            Deadline, () => "the five hosts: " + string.Join(",", h.Rows(SyncHarness.HostSchema).Keys.Order()));
        await h.DrainedAsync(Deadline);
        Assert.Empty(await h.DrainErrorQueueAsync());
    }
}
