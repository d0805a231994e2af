using Flashduty.Simulator;
using FlashdutySync.Reconcile;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// The service scraped by a real Prometheus (Debian's package) that also loads deploy/prometheus/alerts.yaml: every
/// series the Grafana dashboard queries is there, every query answers, every rule evaluates, and the alerts for
/// what the run did wrong on purpose (a missing schema, a bad event, a 429) are raised while the others are not.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class PrometheusScrapeTests(RabbitMqFixture broker)
{
    private const string MissingSchema = "665f1a2b3c4d5e6f7a8b9cff";
    private const string ReconcileToken = "3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f";

    [Fact]
    public async Task ServiceScrapedByPrometheus_ServesEverySeriesTheDashboardQueries_AndTheAlertRulesSeeWhatWentWrong()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Flashduty:SchemaIds:2"] = MissingSchema; // never loads: the paused-schema gauge and alert
        h.Settings["Sync:Prune"] = "true"; // the drift panel's pruned rows
        h.Settings["Reconcile:Token"] = ReconcileToken;
        var app = await h.StartServiceAsync();
        var port = new Uri(app.Urls.First()).Port;
        // RabbitMQ's own endpoint too, for the dashboard's backlog panel (scripts/ensure-rabbitmq.sh enables it).
        await using var prometheus = await PrometheusServer.StartAsync(port, broker.MetricsTarget, RepoFiles.PathOf("deploy/prometheus/alerts.yaml"));

        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 20; i++) await h.ProvisionAsync($"web-{i:00}", "alice", "sre", $"svc-{i % 4}", now.AddMilliseconds(i));
        await h.PublishRawAsync(InventoryExchanges.HostProvisioned, new { owner = "x", occurredAt = now }); // no host: unreadable, set aside
        await h.ProvisionAsync("web-long", new string('o', 2049), "sre", "svc-0", now); // a value Flashduty cannot take: invalid, set aside
        await h.OwnerChangedAsync("not-provisioned-yet", "bob", now); // no row yet: parked in the wait queue
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 20, TimeSpan.FromSeconds(30), "twenty rows in Flashduty");
        await Eventually.UntilAsync(async () => await h.CountAsync(h.ErrorQueue) == 2, TimeSpan.FromSeconds(30), "the two bad events in the error queue");

        // One 429: Flashduty throttles everything until the service has been refused once, then nothing.
        h.Simulator.State.Faults = new FaultOptions { ThrottleRate = 1 };
        await h.OwnerChangedAsync("web-00", "carol", DateTimeOffset.UtcNow);
        await Eventually.UntilAsync(() => h.Simulator.State.Stats.ThrottledBy(SimStats.Causes.Injected) > 0, TimeSpan.FromSeconds(20), "a 429 to be answered");
        h.Simulator.State.Faults = new FaultOptions();
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema)["web-00"]["owner"] == "carol", TimeSpan.FromSeconds(30), "the throttled write to land");

        // Drift for the drift-repair panel: a row edited behind the service's back and one no event set; a repair run
        // writes the first again and prunes the second.
        h.Simulator.State.SeedRows(SyncHarness.HostSchema, [
            new Dictionary<string, string> { ["host"] = "web-01", ["owner"] = "mallory", ["team"] = "sre", ["service"] = "svc-1" },
            new Dictionary<string, string> { ["host"] = "legacy-1", ["owner"] = "nobody", ["team"] = "sre", ["service"] = "svc-0" },
        ]);
        var errors = new StringWriter();
        Assert.True(await ReconcileCommand.RunAsync(["--url", $"http://localhost:{port}"], new StringWriter(), errors,
            environment: v => v == ReconcileOptions.TokenVariable ? ReconcileToken : null) == 0, errors.ToString());
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema) is var rows && rows["web-01"]["owner"] == "alice" && !rows.ContainsKey("legacy-1"),
            TimeSpan.FromSeconds(30), "the edited row written again and the foreign one pruned");

        var queries = DashboardQueries.All();
        var wanted = queries.SelectMany(q => DashboardQueries.MetricNames(q.Expr)).ToHashSet();
        IReadOnlySet<string> scraped = new HashSet<string>();
        await Eventually.UntilAsync(async () => (scraped = await prometheus.MetricNamesAsync()).IsSupersetOf(wanted), TimeSpan.FromSeconds(60),
            () => $"Prometheus to hold every series the dashboard queries; missing: {string.Join(", ", wanted.Except(scraped).Order())}");

        // Each panel's query, as Grafana sends it with "All" selected, answers with data (rates need two scrapes).
        var empty = queries.Select(q => q.Expr).ToList();
        var scrapes = "";
        await Eventually.UntilAsync(async () =>
        {
            var stillEmpty = new List<string>();
            foreach (var expr in empty)
            {
                if ((await prometheus.QueryAsync(DashboardQueries.Resolve(expr, PrometheusServer.Job, PrometheusServer.RabbitMqJob, h.Queue))).Count == 0) stillEmpty.Add(expr);
            }

            empty = stillEmpty;
            scrapes = (await prometheus.QueryAsync("sum_over_time(up[1m])")).ToJsonString() + " of " + (await prometheus.QueryAsync("count_over_time(up[1m])")).ToJsonString();
            return empty.Count == 0;
        }, TimeSpan.FromSeconds(60), () => $"every dashboard query to answer with data; successful scrapes in the last minute {scrapes}; empty: {string.Join(" | ", empty)}\n{prometheus.Log}");

        Assert.Equal(1.0, await ScalarAsync(prometheus, "sum(sync_replica_active)"));
        Assert.Equal(1.0, await ScalarAsync(prometheus, $"max(sync_schema_paused{{schema_id=\"{MissingSchema}\"}})"));
        Assert.Equal(0.0, await ScalarAsync(prometheus, $"max(sync_schema_paused{{schema_id=\"{SyncHarness.HostSchema}\"}})"));
        Assert.Equal(50.0, await ScalarAsync(prometheus, "max(flashduty_limiter_limit{window=\"1s\"})"));
        Assert.Equal(1000.0, await ScalarAsync(prometheus, "max(flashduty_limiter_limit{window=\"1m\"})"));
        Assert.True(await ScalarAsync(prometheus, "sum(sync_rows_sent_total{operation=\"upsert\"})") >= 21);
        Assert.True(await ScalarAsync(prometheus, "sum(flashduty_throttled_total)") >= 1);
        Assert.True(await ScalarAsync(prometheus, "sum(flashduty_requests_total{status=\"429\"})") >= 1);
        Assert.Equal(1.0, await ScalarAsync(prometheus, "sum(sync_events_set_aside_total{reason=\"invalid-event\"})"));
        Assert.Equal(1.0, await ScalarAsync(prometheus, "sum(sync_events_set_aside_total{reason=\"unreadable\"})"));
        Assert.Equal(1.0, await ScalarAsync(prometheus, "sum(sync_reconcile_different_total)"));
        Assert.Equal(1.0, await ScalarAsync(prometheus, "sum(sync_reconcile_repaired_total)"));
        Assert.Equal(1.0, await ScalarAsync(prometheus, "sum(sync_reconcile_pruned_total)"));
        // A row of 20 against the default cap of 10,000.
        Assert.Equal(0.002, await ScalarAsync(prometheus, $"max(sync_rows_fill{{schema_id=\"{SyncHarness.HostSchema}\"}})"), 6);

        var rules = await prometheus.RulesAsync();
        Assert.Equal(8, rules.Count);
        Assert.All(rules, r => Assert.True(r.Health == "ok", $"rule {r.Name}: {r.Health} {r.Error}"));
        // No `for:` on these two: firing at once. The paused schema is pending for 5 minutes first.
        await Eventually.UntilAsync(async () =>
        {
            var alerts = await prometheus.AlertsAsync();
            return alerts.Any(a => a is { Name: "FlashdutySyncErrorQueueGrowing", State: "firing" } && (string?)a.Labels["reason"] == "invalid-event")
                   && alerts.Any(a => a is { Name: "FlashdutySyncThrottled", State: "firing" })
                   && alerts.Any(a => a.Name == "FlashdutySyncSchemaPaused" && (string?)a.Labels["schema_id"] == MissingSchema);
        }, TimeSpan.FromSeconds(20), "the error-queue, throttled and paused-schema alerts");
        var raised = (await prometheus.AlertsAsync()).Select(a => a.Name).ToHashSet();
        Assert.DoesNotContain("FlashdutySyncNoActiveReplica", raised);
        Assert.DoesNotContain("FlashdutySyncSeveralActiveReplicas", raised);
        Assert.DoesNotContain("FlashdutySyncSchemaNearlyFull", raised);
        Assert.DoesNotContain("FlashdutySyncNotWriting", raised);
        Assert.DoesNotContain("FlashdutySyncFreshnessSlow", raised);
    }

    private static async Task<double> ScalarAsync(PrometheusServer prometheus, string expr)
    {
        var result = Assert.Single(await prometheus.QueryAsync(expr));
        return double.Parse((string)result!["value"]![1]!, System.Globalization.CultureInfo.InvariantCulture);
    }
}
