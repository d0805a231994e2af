using System.Text.RegularExpressions;
using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Operating;

/// <summary>deploy/prometheus: the rules pass promtool's checks and unit tests, and every alert is tested both ways.</summary>
public sealed partial class AlertRulesTests
{
    private const string Dir = "deploy/prometheus";

    private static readonly string[] Expected =
    [
        "FlashdutySyncNoActiveReplica", "FlashdutySyncSeveralActiveReplicas", "FlashdutySyncSchemaPaused", "FlashdutySyncErrorQueueGrowing", "FlashdutySyncSchemaNearlyFull",
        "FlashdutySyncFreshnessSlow", "FlashdutySyncThrottled", "FlashdutySyncNotWriting",
    ];

    private static IReadOnlyList<string> AlertNames() =>
        Yaml.Single($"{Dir}/alerts.yaml").List("groups").SelectMany(g => g.List("rules")).Select(r => r.Text("alert")!).ToList();

    [Fact]
    public async Task Rules_PassPromtoolCheck_AndTheirUnitTests_AndTheComposeConfigIsValid()
    {
        var promtool = Tool.Find("promtool", "prometheus");
        var dir = RepoFiles.PathOf(Dir);
        foreach (var args in new[] { new[] { "check", "rules", "alerts.yaml" }, ["test", "rules", "alerts.test.yaml"], ["check", "config", "prometheus.yml"] })
        {
            var (exit, output) = await Tool.RunAsync(promtool, dir, args);
            Assert.True(exit == 0, $"promtool {string.Join(' ', args)} exited {exit}:\n{output}");
            Assert.Contains("SUCCESS", output);
        }
    }

    [Fact]
    public void EveryAlert_IsTheOneTheIssueAsksFor_WithASeverityAndWhatToDo()
    {
        Assert.Equal(Expected.Order(), AlertNames().Order());
        foreach (var rule in Yaml.Single($"{Dir}/alerts.yaml").List("groups").SelectMany(g => g.List("rules")))
        {
            Assert.Contains(rule.Text("labels.severity"), new[] { "critical", "warning" });
            Assert.False(string.IsNullOrWhiteSpace(rule.Text("annotations.summary")), rule.Text("alert"));
            Assert.False(string.IsNullOrWhiteSpace(rule.Text("annotations.description")), rule.Text("alert"));
        }
    }

    [Fact]
    public void EveryAggregation_KeepsNamespaceAndJob_SoTwoDeploymentsWithOneJobDoNotMaskEachOther()
    {
        foreach (var rule in Yaml.Single($"{Dir}/alerts.yaml").List("groups").SelectMany(g => g.List("rules")))
        {
            var clauses = Grouping().Matches(rule.Text("expr")!).Select(m => m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries)).ToList();
            Assert.True(clauses.Count > 0, $"{rule.Text("alert")}: no by (...) or on (...)");
            Assert.All(clauses, labels => Assert.True(labels.Contains("namespace") && labels.Contains("job"),
                $"{rule.Text("alert")}: ({string.Join(", ", labels)}) leaves out namespace or job"));
        }
    }

    [Fact]
    public void EveryAlert_HasAUnitTestWhereItFires_AndOneWhereItDoesNot()
    {
        var cases = Yaml.Single($"{Dir}/alerts.test.yaml").List("tests").SelectMany(t => t.List("alert_rule_test"))
            .Select(c => (Name: c.Text("alertname")!, Fires: c.List("exp_alerts").Count > 0)).ToList();
        foreach (var alert in AlertNames())
        {
            Assert.True(cases.Contains((alert, true)), $"{alert}: no case where it fires");
            Assert.True(cases.Contains((alert, false)), $"{alert}: no case where it stays quiet");
        }
    }

    [Fact]
    public void EveryAlert_HasItsRunbookInTheReadme()
    {
        var readme = RepoFiles.Read("README.md");
        var operating = Regex.Match(readme, @"^## Operating$(.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(operating.Success, "README.md has no '## Operating' section");
        foreach (var alert in AlertNames()) Assert.Contains($"`{alert}`", operating.Groups[1].Value);
    }

    [GeneratedRegex(@"\b(?:by|on)\s*\(([^)]*)\)")]
    private static partial Regex Grouping();
}
