using System.Text.RegularExpressions;
using FlashdutySync.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace FlashdutySync.Tests.Operating;

/// <summary>
/// deploy/k8s, read as YAML and checked for what matters (Debian's kubectl 1.20 validates only against a cluster,
/// and no schema validator installs here): two replicas, probes on the health endpoints, non-root, a read-only root
/// filesystem, resources sized from the benchmark, the app key from a Secret the team creates (never applied by
/// kustomize, so an apply cannot overwrite it), and a disruption budget.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    private const string Dir = "deploy/k8s";

    private static YamlMappingNode ExampleSecret() => Yaml.Single($"{Dir}/secret.example.yaml");

    private static IReadOnlyDictionary<string, YamlMappingNode> Resources()
    {
        var kustomization = Yaml.Single($"{Dir}/kustomization.yaml");
        return kustomization.List("resources").Select(r => ((YamlScalarNode)r).Value!)
            .SelectMany(file => Yaml.Documents($"{Dir}/{file}")).ToDictionary(d => d.Text("kind")!);
    }

    private static YamlMappingNode Container(IReadOnlyDictionary<string, YamlMappingNode> resources) =>
        (YamlMappingNode)Assert.Single(resources["Deployment"].List("spec.template.spec.containers"));

    [Fact]
    public void Kustomization_ListsTheDeploymentConfigMapServiceAndDisruptionBudget_AndNoSecret()
    {
        // A Secret in the kustomization would replace the team's real one with placeholders at every `kubectl apply -k`.
        Assert.Equal(["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"], Resources().Keys.Order());
        Assert.All(Resources().Values, r => Assert.Equal("flashduty-mapping-sync", r.Text("metadata.name")));
        Assert.Null(Yaml.Single($"{Dir}/kustomization.yaml").At("secretGenerator"));
        Assert.Equal("Secret", ExampleSecret().Text("kind"));
    }

    [Fact]
    public void Deployment_RunsTwoReplicas_ProbedOnTheHealthEndpoints_OfTheConfiguredPort()
    {
        var resources = Resources();
        var deployment = resources["Deployment"];
        Assert.Equal("2", deployment.Text("spec.replicas"));
        Assert.Equal("0", deployment.Text("spec.strategy.rollingUpdate.maxUnavailable"));
        var container = Container(resources);
        var port = Assert.Single(container.List("ports"));
        Assert.Equal(resources["ConfigMap"].Text("data.Health__Port"), port.Text("containerPort"));
        Assert.Equal("/health/live", container.Text("livenessProbe.httpGet.path"));
        Assert.Equal("/health/ready", container.Text("readinessProbe.httpGet.path"));
        Assert.Equal("/health/live", container.Text("startupProbe.httpGet.path"));
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
            Assert.Equal(port.Text("name"), container.Text($"{probe}.httpGet.port"));
        // The host's shutdown time (30 s by default) runs out before Kubernetes kills the process.
        Assert.True(int.Parse(deployment.Text("spec.template.spec.terminationGracePeriodSeconds")!) > 30);
        var annotations = deployment.Map("spec.template.metadata.annotations");
        Assert.Equal("/metrics", ((YamlScalarNode)annotations.Children[new YamlScalarNode("prometheus.io/path")]).Value);
        Assert.Equal(port.Text("containerPort"), ((YamlScalarNode)annotations.Children[new YamlScalarNode("prometheus.io/port")]).Value);
    }

    [Fact]
    public void Deployment_StartupProbe_OutlastsTheLongestStartTheCodeAllows()
    {
        // The health port listens once the hosted services have started: the schemas' first read (bounded by
        // Sync:StartReadTimeout), then the queue check's connection (RabbitMQ's connection timeout, per node).
        var resources = Resources();
        var container = Container(resources);
        var settings = resources["ConfigMap"].Map("data");
        var startRead = settings.Text("Sync__StartReadTimeout") is { } configured ? TimeSpan.Parse(configured, System.Globalization.CultureInfo.InvariantCulture)
            : new FlashdutySync.Sync.SyncOptions().StartReadTimeout;
        var nodes = Math.Max(1, settings.Text("RabbitMq__Nodes")?.Split(',').Length ?? 1);
        var connect = new RabbitMQ.Client.ConnectionFactory().RequestedConnectionTimeout * nodes;
        var longest = startRead + connect + TimeSpan.FromSeconds(10); // the runtime's own start, and a margin
        var budget = TimeSpan.FromSeconds(int.Parse(container.Text("startupProbe.initialDelaySeconds") ?? "0") +
                                          int.Parse(container.Text("startupProbe.periodSeconds")!) * int.Parse(container.Text("startupProbe.failureThreshold")!));
        Assert.True(budget >= longest, $"the startup probe allows {budget}; a start may take {startRead} (schemas) + {connect} (broker) + 10 s");
    }

    [Fact]
    public void Deployment_RunsAsNonRoot_OnAReadOnlyRootFilesystem_WithoutPrivileges()
    {
        var resources = Resources();
        var pod = resources["Deployment"].Map("spec.template.spec");
        Assert.Equal("true", pod.Text("securityContext.runAsNonRoot"));
        Assert.NotEqual("0", pod.Text("securityContext.runAsUser"));
        Assert.Equal("false", pod.Text("automountServiceAccountToken"));
        var container = Container(resources);
        Assert.Equal("true", container.Text("securityContext.readOnlyRootFilesystem"));
        Assert.Equal("false", container.Text("securityContext.allowPrivilegeEscalation"));
        Assert.Equal(["ALL"], container.List("securityContext.capabilities.drop").Select(c => ((YamlScalarNode)c).Value));
        // .NET's diagnostics socket needs a writable /tmp.
        var tmp = Assert.Single(container.List("volumeMounts"), m => m.Text("mountPath") == "/tmp");
        Assert.Contains(pod.List("volumes"), v => v.Text("name") == tmp.Text("name") && v.At("emptyDir") is not null);
    }

    [Fact]
    public void Deployment_MemoryIsSizedAboveTheBenchmarksPeak_WithTheHeapCapBelowTheLimit()
    {
        var container = Container(Resources());
        var request = Mebibytes(container.Text("resources.requests.memory")!);
        var limit = Mebibytes(container.Text("resources.limits.memory")!);
        // Measured RSS: ~336 MB quick benchmark, ~340-350 MB in the outage suite, ~460 MB at most over nine 300k-backlog runs.
        Assert.True(request >= 350 * 1_000_000 / 1_048_576.0, $"memory request {request} MiB is below the measured ~340 MB");
        Assert.True(limit * 1_048_576 * 0.75 >= 460_000_000, $"memory limit {limit} MiB: .NET's heap cap (75%) is below the highest peak measured");
        Assert.True(limit >= request);
        Assert.NotNull(container.Text("resources.requests.cpu"));
    }

    [Fact]
    public void TheAppKeyBrokerUriAndReconcileToken_ComeFromTheExampleSecretsNameAndKeys_AndTheSettingsFromTheConfigMap()
    {
        var resources = Resources();
        var container = Container(resources);
        var secret = ExampleSecret();
        var secretKeys = secret.Map("stringData").Keys();
        var referenced = new List<string>();
        foreach (var variable in new[] { "Flashduty__AppKey", "RabbitMq__Uri", "Reconcile__Token" })
        {
            var env = Assert.Single(container.List("env"), e => e.Text("name") == variable);
            Assert.Null(env.Text("value"));
            Assert.Equal(secret.Text("metadata.name"), env.Text("valueFrom.secretKeyRef.name"));
            referenced.Add(env.Text("valueFrom.secretKeyRef.key")!);
        }

        Assert.Equal(referenced.Order(), secretKeys.Order());

        var settings = resources["ConfigMap"].Map("data").Keys();
        Assert.DoesNotContain("Flashduty__AppKey", settings);
        Assert.DoesNotContain("RabbitMq__Uri", settings);
        Assert.DoesNotContain("Reconcile__Token", settings);
        // Only the token may be missing from a Secret created before it existed: the pods start, the endpoint refuses.
        Assert.Equal(["Reconcile__Token"], container.List("env").Where(e => e.Text("valueFrom.secretKeyRef.optional") == "true").Select(e => e.Text("name")));
        Assert.Contains("Flashduty__SchemaIds__0", settings);
        Assert.Equal(resources["ConfigMap"].Text("metadata.name"), Assert.Single(container.List("envFrom")).Text("configMapRef.name"));
    }

    [Fact]
    public void DisruptionBudgetAndService_SelectThePods_AndTheServiceListsNotReadyOnesForScraping()
    {
        var resources = Resources();
        var podLabels = resources["Deployment"].Map("spec.template.metadata.labels");
        Assert.Equal(podLabels.Children, resources["Deployment"].Map("spec.selector.matchLabels").Children);
        Assert.Equal("1", resources["PodDisruptionBudget"].Text("spec.minAvailable"));
        Assert.Equal(podLabels.Children, resources["PodDisruptionBudget"].Map("spec.selector.matchLabels").Children);
        Assert.Equal(podLabels.Children, resources["Service"].Map("spec.selector").Children);
        Assert.Equal("true", resources["Service"].Text("spec.publishNotReadyAddresses"));
    }

    [Fact]
    public void ReadmeAndExample_CreateTheSecret_UnderTheNameAndKeysTheDeploymentReads()
    {
        var container = Container(Resources());
        var refs = container.List("env").Select(e => e.At("valueFrom.secretKeyRef")).OfType<YamlMappingNode>().ToList();
        var name = Assert.Single(refs.Select(r => r.Text("name")).Distinct());
        var keys = refs.Select(r => r.Text("key")!).Order().ToList();
        var readme = RepoFiles.Read("README.md");
        var start = readme.IndexOf("\n## Operating\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Operating' section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var operating = readme[start..(end < 0 ? readme.Length : end)];
        foreach (var (source, text) in new[] { ("README.md, Operating", operating), ("secret.example.yaml", RepoFiles.Read($"{Dir}/secret.example.yaml")) })
        {
            var command = CreateSecret().Match(text);
            Assert.True(command.Success, $"{source}: no `kubectl create secret generic` command");
            Assert.Equal(name, command.Groups["name"].Value);
            Assert.Equal(keys, command.Groups["key"].Captures.Select(c => c.Value).Order());
        }
    }

    [GeneratedRegex(@"kubectl create secret generic (?<name>[a-z0-9-]+)(?:(?:\s|\\\n|#)+--from-literal=(?<key>[a-z0-9-]+)=(?:'[^']*'|""[^""]*""|\S+))+")]
    private static partial Regex CreateSecret();

    private static double Mebibytes(string quantity) => quantity switch
    {
        _ when quantity.EndsWith("Gi", StringComparison.Ordinal) => double.Parse(quantity[..^2]) * 1024,
        _ when quantity.EndsWith("Mi", StringComparison.Ordinal) => double.Parse(quantity[..^2]),
        _ => throw new Xunit.Sdk.XunitException($"memory quantity {quantity}: expected Mi or Gi"),
    };
}
