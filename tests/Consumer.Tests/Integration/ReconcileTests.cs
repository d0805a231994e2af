using System.Diagnostics.Metrics;
using FlashdutySync.Reconcile;
using FlashdutySync.Telemetry;
using FlashdutySync.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace FlashdutySync.Tests.Integration;

/// <summary>Drift repair: rows changed behind the service's back are written again; rows no event set are left alone unless pruned.</summary>
[Collection(BrokerCollection.Name)]
public sealed class ReconcileTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private const string Token = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d";

    private static string? TokenFromEnvironment(string variable) => variable == ReconcileOptions.TokenVariable ? Token : null;

    private static Dictionary<string, string> Row(string host, string owner, string team = "sre", string service = "api") =>
        new() { ["host"] = host, ["owner"] = owner, ["team"] = team, ["service"] = service };

    [Fact]
    public async Task ARowEditedOrDeletedBehindTheServicesBack_IsRepairedWithinOneInterval_AndRowsNoEventSetAreLeftAlone()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Sync:ReconcileInterval"] = "00:00:01";
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, [Row("legacy-1", "nobody")]);
        var app = await h.StartServiceAsync();
        using var repaired = new Counted("sync.reconcile.repaired", app.Services.GetRequiredService<IMeterFactory>());
        foreach (var i in new[] { 1, 2, 3 }) await h.ProvisionAsync($"web-{i}", $"owner-{i}", "sre", "api", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 4, TimeSpan.FromSeconds(20), "the provisioned rows");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));

        // Someone edits one row in the console, deletes another, and edits the row no event ever set.
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, [Row("web-1", "mallory"), Row("legacy-1", "somebody")]);
        Assert.Equal(1, h.Simulator.State.RemoveRows(SyncHarness.HostSchema, r => r["host"] == "web-2"));

        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).GetValueOrDefault("web-1")?["owner"] == "owner-1" &&
                                          h.Rows(SyncHarness.HostSchema).ContainsKey("web-2"), TimeSpan.FromSeconds(20), "the edited and the deleted row repaired");
        var rows = h.Rows(SyncHarness.HostSchema);
        Assert.Equal("owner-2", rows["web-2"]["owner"]);
        Assert.Equal("owner-3", rows["web-3"]["owner"]);
        Assert.Equal("somebody", rows["legacy-1"]["owner"]); // not the service's: left as edited
        await Eventually.UntilAsync(() => repaired.Total >= 2, TimeSpan.FromSeconds(10), "both repairs counted");
        Assert.Equal(2, repaired.Total);
    }

    [Fact]
    public async Task DryRun_ListsTheDifferencesAndChangesNothing_ThenPruneDeletesRowsNoEventSet_AndRepairsTheRest()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Sync:ReconcileInterval"] = "00:00:00"; // off: only on request
        h.Settings["Sync:Prune"] = "true";
        h.Settings["Reconcile:Token"] = Token;
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, [Row("legacy-1", "nobody"), Row("legacy-2", "nobody")]);
        var app = await h.StartServiceAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "localhost", StringComparison.Ordinal);
        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);
        await h.ProvisionAsync("web-2", "bob", "sre", "api", T0);
        await h.DecommissionAsync("web-2", T0.AddMinutes(1));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"), TimeSpan.FromSeconds(20), "web-1 written");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        await Eventually.UntilAsync(() => !h.Rows(SyncHarness.HostSchema).ContainsKey("web-2"), TimeSpan.FromSeconds(20), "web-2 deleted");
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, [Row("web-1", "mallory"), Row("web-2", "bob")]); // edited; the decommissioned one back
        var before = h.Rows(SyncHarness.HostSchema);
        var (upserts, deletes) = (h.Simulator.State.Stats.Requests("data/upsert"), h.Simulator.State.Stats.Requests("data/delete"));

        var (output, errors) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await ReconcileCommand.RunAsync(["--dry-run", "--url", url], output, errors, environment: TokenFromEnvironment));

        var report = output.ToString();
        Assert.Contains("Dry run: nothing was written.", report);
        Assert.Contains($"schema {SyncHarness.HostSchema}: 4 rows in Flashduty; 0 missing, 1 with other values, 1 of decommissioned hosts still there; 2 no event set", report);
        Assert.Contains("web-1: owner is 'mallory', should be 'alice'", report);
        Assert.Contains("web-2: decommissioned, still in Flashduty: delete it", report);
        Assert.Contains("legacy-1: no event set it: delete it (Sync:Prune)", report);
        Assert.DoesNotContain(SyncHarness.AppKey, report + errors);
        Assert.Equal(before.OrderBy(r => r.Key).Select(r => (r.Key, string.Join(",", r.Value.Values))),
            h.Rows(SyncHarness.HostSchema).OrderBy(r => r.Key).Select(r => (r.Key, string.Join(",", r.Value.Values))));
        Assert.Equal((upserts, deletes), (h.Simulator.State.Stats.Requests("data/upsert"), h.Simulator.State.Stats.Requests("data/delete")));

        Assert.Equal(0, await ReconcileCommand.RunAsync(["--url", url], new StringWriter(), errors, environment: TokenFromEnvironment));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema) is { Count: 1 } rows && rows["web-1"]["owner"] == "alice", TimeSpan.FromSeconds(20),
            () => "only web-1, repaired: " + string.Join("; ", h.Rows(SyncHarness.HostSchema).Select(r => $"{r.Key}={r.Value["owner"]}")));
        // One upsert and one delete request (the three deleted keys together).
        await Eventually.UntilAsync(() => h.Simulator.State.Stats.Requests("data/delete") > deletes, TimeSpan.FromSeconds(5), "the delete counted");
        Assert.Equal(upserts + 1, h.Simulator.State.Stats.Requests("data/upsert"));
        Assert.Equal(deletes + 1, h.Simulator.State.Stats.Requests("data/delete"));

        // The service's own rows are untouched by a second run: nothing differs any more.
        output = new StringWriter();
        Assert.Equal(0, await ReconcileCommand.RunAsync(["--dry-run", "--url", url], output, errors, environment: TokenFromEnvironment));
        Assert.Contains("1 rows in Flashduty; 0 missing, 0 with other values, 0 of decommissioned hosts still there; 0 no event set", output.ToString());
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "unknown argument '--bogus'")]
    [InlineData(new[] { "--url", "ftp://x" }, "--url needs an http(s) address")]
    [InlineData(new[] { "--url" }, "--url needs an http(s) address")]
    [InlineData(new[] { "--token-file" }, "--token-file needs the path of a file holding the token")]
    [InlineData(new[] { "--token-file", "/nonexistent/reconcile-token" }, "--token-file /nonexistent/reconcile-token: cannot be read")]
    public async Task BadArguments_AreNamed(string[] args, string message)
    {
        var errors = new StringWriter();
        Assert.Equal(2, await ReconcileCommand.RunAsync(args, new StringWriter(), errors));
        Assert.Contains(message, errors.ToString());
    }

    /// <summary>Sums one counter of one service's meter (tests running beside this one repair rows with meters of the same name).</summary>
    private sealed class Counted : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public Counted(string instrument, IMeterFactory scope)
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Scope == scope && i.Meter.Name == SyncMetrics.MeterName && i.Name == instrument) l.EnableMeasurementEvents(i);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }
}
