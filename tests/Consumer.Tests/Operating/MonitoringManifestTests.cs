using System.Text;
using FlashdutySync.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace FlashdutySync.Tests.Operating;

/// <summary>
/// deploy/k8s/monitoring, for prometheus-operator: its own kustomization (not the default one, so a cluster without
/// the CRDs can still apply deploy/k8s), a ServiceMonitor that scrapes the Service the way the rules expect, and a
/// PrometheusRule holding exactly deploy/prometheus/alerts.yaml's rules, so that the two cannot drift.
/// </summary>
public sealed class MonitoringManifestTests
{
    private const string Dir = "deploy/k8s/monitoring";

    private static IReadOnlyDictionary<string, YamlMappingNode> Resources() =>
        Yaml.Single($"{Dir}/kustomization.yaml").List("resources").Select(r => ((YamlScalarNode)r).Value!)
            .SelectMany(file => Yaml.Documents($"{Dir}/{file}")).ToDictionary(d => d.Text("kind")!);

    [Fact]
    public void Kustomization_HoldsTheServiceMonitorAndThePrometheusRule_AndTheDefaultOneNeither()
    {
        var resources = Resources();
        Assert.Equal(["PrometheusRule", "ServiceMonitor"], resources.Keys.Order());
        Assert.All(resources.Values, r => Assert.Equal("monitoring.coreos.com/v1", r.Text("apiVersion")));
        var main = Yaml.Single("deploy/k8s/kustomization.yaml").List("resources").Select(r => ((YamlScalarNode)r).Value!);
        Assert.DoesNotContain(main, file => file.Contains("monitoring", StringComparison.Ordinal));
    }

    [Fact]
    public void PrometheusRule_HoldsTheRulesOfAlertsYaml_AsTheyAre()
    {
        var rule = Resources()["PrometheusRule"];
        var expected = Canonical(Yaml.Single("deploy/prometheus/alerts.yaml").At("groups")!);
        var actual = Canonical(rule.At("spec.groups") ?? throw new Xunit.Sdk.XunitException("the PrometheusRule has no spec.groups"));
        Assert.True(expected == actual,
            "deploy/k8s/monitoring/prometheusrule.yaml differs from deploy/prometheus/alerts.yaml: run `bash scripts/gen-prometheusrule.sh`");
    }

    [Fact]
    public void ServiceMonitor_ScrapesTheServicesPort_OnThePodsMetricsPath()
    {
        var monitor = Resources()["ServiceMonitor"];
        var service = Yaml.Single("deploy/k8s/service.yaml");
        var deployment = Yaml.Single("deploy/k8s/deployment.yaml");
        // Selects the Service by a label the Service itself carries (not only the kustomization's).
        Assert.Equal(monitor.Map("spec.selector.matchLabels").Children, service.Map("metadata.labels").Children);
        var endpoint = Assert.Single(monitor.List("spec.endpoints"));
        Assert.Contains(service.List("spec.ports"), p => p.Text("name") == endpoint.Text("port"));
        var annotations = deployment.Map("spec.template.metadata.annotations");
        Assert.Equal(((YamlScalarNode)annotations.Children[new YamlScalarNode("prometheus.io/path")]).Value, endpoint.Text("path"));
        // Not-ready pods stay in the Service's endpoints, so a replica whose schema is paused is still scraped.
        Assert.Equal("true", service.Text("spec.publishNotReadyAddresses"));
    }

    [Fact]
    public async Task Generator_WritesWhatIsCheckedIn()
    {
        var output = Path.Combine(Path.GetTempPath(), $"prometheusrule-{Guid.NewGuid():N}.yaml");
        try
        {
            var (exit, log) = await Tool.RunAsync("bash", RepoFiles.Root, "scripts/gen-prometheusrule.sh", output);
            Assert.True(exit == 0, log);
            Assert.True(await File.ReadAllTextAsync(output) == RepoFiles.Read($"{Dir}/prometheusrule.yaml"),
                "deploy/k8s/monitoring/prometheusrule.yaml is not what scripts/gen-prometheusrule.sh writes: run it");
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>A YAML node as text that ignores layout and comments: scalars by value, mappings and sequences in order.</summary>
    private static string Canonical(YamlNode node)
    {
        var text = new StringBuilder();
        Write(node);
        return text.ToString();

        void Write(YamlNode n)
        {
            switch (n)
            {
                case YamlScalarNode s:
                    text.Append('"').Append(s.Value?.TrimEnd('\n')).Append('"');
                    break;
                case YamlSequenceNode seq:
                    text.Append('[');
                    foreach (var child in seq.Children)
                    {
                        Write(child);
                        text.Append(',');
                    }

                    text.Append(']');
                    break;
                case YamlMappingNode map:
                    text.Append('{');
                    foreach (var (key, value) in map.Children)
                    {
                        Write(key);
                        text.Append(':');
                        Write(value);
                        text.Append(',');
                    }

                    text.Append('}');
                    break;
            }
        }
    }
}
