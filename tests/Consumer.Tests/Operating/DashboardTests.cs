using System.Text.Json.Nodes;
using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Operating;

/// <summary>
/// deploy/grafana's dashboard as Grafana reads it (no Grafana here: Debian does not package it). That its series
/// exist is <see cref="Integration.PrometheusScrapeTests"/>'s part.
/// </summary>
public sealed class DashboardTests
{
    private static IEnumerable<JsonObject> Panels(JsonObject dashboard) => dashboard["panels"]!.AsArray().Select(p => p!.AsObject());

    [Fact]
    public void Dashboard_HasAStableUid_UniquePanelIds_AndPanelsThatFitTheGridWithoutOverlapping()
    {
        var dashboard = DashboardQueries.Load();
        Assert.Equal("flashduty-mapping-sync", (string?)dashboard["uid"]);
        Assert.True((int)dashboard["schemaVersion"]! >= 36);
        var panels = Panels(dashboard).ToList();
        Assert.Equal(panels.Count, panels.Select(p => (int)p["id"]!).Distinct().Count());
        var boxes = panels.Select(p => p["gridPos"]!).Select(g => (X: (int)g["x"]!, Y: (int)g["y"]!, W: (int)g["w"]!, H: (int)g["h"]!)).ToList();
        Assert.All(boxes, b => Assert.True(b is { X: >= 0, Y: >= 0, W: > 0, H: > 0 } && b.X + b.W <= 24, $"{b} is off the 24-column grid"));
        for (var i = 0; i < boxes.Count; i++)
        {
            for (var j = i + 1; j < boxes.Count; j++)
            {
                var (a, b) = (boxes[i], boxes[j]);
                var overlap = a.X < b.X + b.W && b.X < a.X + a.W && a.Y < b.Y + b.H && b.Y < a.Y + a.H;
                Assert.False(overlap, $"panels '{panels[i]["title"]}' and '{panels[j]["title"]}' overlap");
            }
        }
    }

    [Fact]
    public void EveryQuery_ReadsTheChosenDataSource_AndFiltersEverySelectorByJob()
    {
        var dashboard = DashboardQueries.Load();
        var variables = dashboard["templating"]!["list"]!.AsArray().Select(v => v!.AsObject()).ToDictionary(v => (string)v["name"]!);
        Assert.Equal("datasource", (string?)variables["datasource"]["type"]);
        Assert.Equal("prometheus", (string?)variables["datasource"]["query"]);
        Assert.Contains("sync_replica_active", (string?)variables["job"]["definition"]);
        Assert.Contains("schema_id", (string?)variables["schema"]["definition"]);
        Assert.Contains("rabbitmq_queue_messages_ready", (string?)variables["rabbitmq_job"]["definition"]);
        Assert.Equal("flashduty-mapping-sync", (string?)variables["queue"]["query"]);

        foreach (var panel in Panels(dashboard).Where(p => (string?)p["type"] != "row"))
        {
            var title = (string)panel["title"]!;
            Assert.Equal("${datasource}", (string?)panel["datasource"]!["uid"]);
            var targets = panel["targets"]!.AsArray();
            Assert.True(targets.Count > 0, $"{title}: no query");
            foreach (var target in targets)
            {
                var expr = (string)target!["expr"]!;
                Assert.Equal("${datasource}", (string?)target["datasource"]!["uid"]);
                Assert.NotEmpty(DashboardQueries.MetricNames(expr));
                // The service's series by the service's job; RabbitMQ's own (its queue depths) by RabbitMQ's.
                var selectors = expr.Replace("${queue}", "", StringComparison.Ordinal).Count(c => c == '{');
                var rabbitMq = DashboardQueries.MetricNames(expr).All(m => m.StartsWith("rabbitmq_", StringComparison.Ordinal));
                var filter = rabbitMq ? "{job=~\"$rabbitmq_job\"" : "{job=~\"$job\"";
                Assert.True(expr.Split(filter).Length - 1 == selectors, $"{title}: every selector of {expr} must match {filter[1..]} first");
            }
        }
    }

    [Fact]
    public void Dashboard_AnswersTheOperatorsQuestions_KeepingUpCostAndWhatIsWrong()
    {
        var queried = DashboardQueries.All().SelectMany(q => DashboardQueries.MetricNames(q.Expr)).ToHashSet();
        string[] keepingUp = ["sync_events_consumed_total", "sync_rows_sent_total", "sync_rows_pending", "sync_freshness_seconds_bucket", "sync_replica_active",
            "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked"];
        string[] cost = ["flashduty_requests_total", "sync_coalescing_events_per_request_sum", "flashduty_limiter_wait_seconds_bucket",
            "flashduty_limiter_permits", "flashduty_limiter_limit", "dotnet_process_memory_working_set_bytes"];
        string[] wrong = ["sync_events_set_aside_total", "sync_schema_paused", "sync_rows_fill", "flashduty_throttled_total", "sync_events_parked_total",
            "sync_reconcile_different_total", "sync_reconcile_repaired_total", "sync_reconcile_pruned_total"];
        Assert.Empty(keepingUp.Concat(cost).Concat(wrong).Except(queried));
        var rows = Panels(DashboardQueries.Load()).Where(p => (string?)p["type"] == "row").Select(p => (string)p["title"]!).ToList();
        Assert.Equal(["Is it keeping up?", "What does it cost?", "Is anything wrong?"], rows);
    }
}
