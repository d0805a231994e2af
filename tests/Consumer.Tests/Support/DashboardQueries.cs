using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FlashdutySync.Tests.Support;

/// <summary>The Grafana dashboard's queries, and the metric names they read.</summary>
public static partial class DashboardQueries
{
    public const string File = "deploy/grafana/flashduty-mapping-sync.json";

    public static JsonObject Load() => JsonNode.Parse(RepoFiles.Read(File))!.AsObject();

    /// <summary>Every panel's queries: (panel title, PromQL as written, with Grafana's variables).</summary>
    public static IReadOnlyList<(string Panel, string Expr)> All() =>
        Load()["panels"]!.AsArray().Select(p => p!.AsObject())
            .Where(p => (string?)p["type"] != "row")
            .SelectMany(p => (p["targets"]?.AsArray() ?? []).Select(t => ((string)p["title"]!, (string?)t!["expr"] ?? "")))
            .ToList();

    /// <summary>
    /// The query as Grafana sends it with these variables: the service's and RabbitMQ's jobs, every schema ("All"), the
    /// service's queue, a 1-minute rate window.
    /// </summary>
    public static string Resolve(string expr, string job, string rabbitMqJob = "rabbitmq", string queue = "flashduty-mapping-sync") => expr
        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
        .Replace("$rabbitmq_job", Regex.Escape(rabbitMqJob), StringComparison.Ordinal)
        .Replace("${queue}", Regex.Escape(queue), StringComparison.Ordinal)
        .Replace("$vhost", ".*", StringComparison.Ordinal)
        .Replace("$job", Regex.Escape(job), StringComparison.Ordinal)
        .Replace("$schema", ".*", StringComparison.Ordinal);

    /// <summary>The metric names a query selects (every selector in these queries has a label matcher).</summary>
    public static IReadOnlySet<string> MetricNames(string expr) =>
        Selector().Matches(expr).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")]
    private static partial Regex Selector();
}
