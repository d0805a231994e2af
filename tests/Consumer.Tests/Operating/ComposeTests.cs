using FlashdutySync.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace FlashdutySync.Tests.Operating;

/// <summary>compose.yaml: what docker-compose 1.29 (Debian's) accepts, and Prometheus and Grafana wired to deploy/.</summary>
public sealed class ComposeTests
{
    [Fact]
    public void Compose_HasNoTopLevelName_AndEveryFileItMountsExists()
    {
        var compose = Yaml.Single("compose.yaml");
        // docker-compose 1.29 refuses any top-level key but these (and x-*).
        Assert.All(compose.Keys(), k => Assert.True(k is "version" or "services" or "volumes" or "networks" or "secrets" or "configs" || k.StartsWith("x-", StringComparison.Ordinal), $"top-level '{k}'"));
        var mounts = compose.Map("services").Children.Values.SelectMany(s => s.List("volumes")).Select(v => ((YamlScalarNode)v).Value!).ToList();
        Assert.NotEmpty(mounts);
        foreach (var source in mounts.Select(m => m.Split(':')[0]).Where(s => s.StartsWith("./", StringComparison.Ordinal)))
            Assert.True(File.Exists(RepoFiles.PathOf(source)) || Directory.Exists(RepoFiles.PathOf(source)), $"compose mounts {source}, which does not exist");
    }

    [Fact]
    public void Compose_PrometheusScrapesTheServiceWithTheAlertRules_AndGrafanaHasTheDashboardProvisioned()
    {
        var services = Yaml.Single("compose.yaml").Map("services");
        var prometheus = services.Map("prometheus").List("volumes").Select(v => ((YamlScalarNode)v).Value!).ToList();
        Assert.Contains("./deploy/prometheus/alerts.yaml:/etc/prometheus/alerts.yaml:ro", prometheus);
        Assert.Contains("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", prometheus);
        var scrape = Yaml.Single("deploy/prometheus/prometheus.yml");
        Assert.Equal(["alerts.yaml"], scrape.List("rule_files").Select(r => ((YamlScalarNode)r).Value));
        var jobs = scrape.List("scrape_configs").ToDictionary(j => j.Text("job_name")!);
        var target = Assert.Single(jobs["flashduty-mapping-sync"].List("static_configs").SelectMany(c => c.List("targets")));
        Assert.Equal($"service:{services.Map("service").Text("environment.Health__Port") ?? "8080"}", ((YamlScalarNode)target).Value);
        // RabbitMQ's own endpoint, per queue, for the dashboard's backlog panel.
        Assert.Equal("/metrics/per-object", jobs["rabbitmq"].Text("metrics_path"));
        Assert.Equal("rabbitmq:15692", ((YamlScalarNode)Assert.Single(jobs["rabbitmq"].List("static_configs").SelectMany(c => c.List("targets")))).Value);

        var grafana = services.Map("grafana").List("volumes").Select(v => ((YamlScalarNode)v).Value!).ToList();
        Assert.Contains("./deploy/grafana/provisioning:/etc/grafana/provisioning:ro", grafana);
        var dashboardMount = Assert.Single(grafana, v => v.StartsWith($"./{DashboardQueries.File}:", StringComparison.Ordinal)).Split(':')[1];
        var provider = Assert.Single(Yaml.Single("deploy/grafana/provisioning/dashboards/flashduty-mapping-sync.yaml").List("providers"));
        Assert.Equal(Path.GetDirectoryName(dashboardMount), provider.Text("options.path"));
        var datasource = Assert.Single(Yaml.Single("deploy/grafana/provisioning/datasources/prometheus.yaml").List("datasources"));
        Assert.Equal("prometheus", datasource.Text("type"));
        Assert.Equal("http://prometheus:9090", datasource.Text("url"));
    }
}
