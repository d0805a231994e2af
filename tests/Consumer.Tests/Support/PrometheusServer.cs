using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace FlashdutySync.Tests.Support;

/// <summary>
/// A real Prometheus (Debian's package), run as a process of the test's own: a free port, a temporary config and
/// storage, scraping one target every 2 seconds (each scrape may take as long: the machine is shared) and
/// evaluating the given rule files every second.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Job = "flashduty-mapping-sync";

    private readonly Process _process;
    private readonly string _dir;
    private readonly HttpClient _http;

    private PrometheusServer(Process process, string dir, Uri baseAddress)
    {
        _process = process;
        _dir = dir;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Log { get; private set; } = "";

    /// <summary>The job of RabbitMQ's own endpoint, scraped per queue (<c>/metrics/per-object</c>) as the README says to.</summary>
    public const string RabbitMqJob = "rabbitmq";

    public static Task<PrometheusServer> StartAsync(int targetPort, params string[] ruleFiles) => StartAsync(targetPort, null, ruleFiles);

    /// <summary>Scrapes the service on <paramref name="targetPort"/> and, when given, RabbitMQ at <paramref name="rabbitMqTarget"/> (host:port).</summary>
    public static async Task<PrometheusServer> StartAsync(int targetPort, string? rabbitMqTarget, params string[] ruleFiles)
    {
        var binary = Tool.Find("prometheus", "prometheus");
        var dir = Directory.CreateTempSubdirectory("prometheus-test-").FullName;
        var rules = string.Join("", ruleFiles.Select(f => $"\n  - {f}"));
        await File.WriteAllTextAsync(Path.Combine(dir, "prometheus.yml"), $"""
            global:
              scrape_interval: 2s
              scrape_timeout: 2s
              evaluation_interval: 1s
            rule_files:{rules}
            scrape_configs:
              - job_name: {Job}
                static_configs:
                  - targets: ["127.0.0.1:{targetPort}"]
            """ + (rabbitMqTarget is null ? "" : $"""

              - job_name: {RabbitMqJob}
                metrics_path: /metrics/per-object
                static_configs:
                  - targets: ["{rabbitMqTarget}"]
            """));
        var port = FreePort();
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (var arg in new[] { $"--config.file={dir}/prometheus.yml", $"--storage.tsdb.path={dir}/data", $"--web.listen-address=127.0.0.1:{port}" })
            start.ArgumentList.Add(arg);
        var server = new PrometheusServer(Process.Start(start)!, dir, new Uri($"http://127.0.0.1:{port}/"));
        var log = new System.Text.StringBuilder();
        server._process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); server.Log = log.ToString(); };
        server._process.BeginErrorReadLine();
        server._process.BeginOutputReadLine();
        await Eventually.UntilAsync(async () => !server._process.HasExited && await server.ReadyAsync(), TimeSpan.FromSeconds(30),
            () => $"Prometheus to be ready on port {port}; its log:\n{server.Log}");
        return server;
    }

    private async Task<bool> ReadyAsync()
    {
        try
        {
            return (await _http.GetAsync("-/ready")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>An instant query's result vector (or scalar) as Prometheus answers it; throws on an error answer.</summary>
    public async Task<JsonArray> QueryAsync(string expr)
    {
        var body = await GetAsync("api/v1/query?query=" + Uri.EscapeDataString(expr));
        var result = body["data"]!["result"]!;
        return result is JsonArray vector ? vector : [result.DeepClone()];
    }

    /// <summary>Names of every metric scraped from the service and from RabbitMQ.</summary>
    public async Task<IReadOnlySet<string>> MetricNamesAsync() =>
        (await QueryAsync($"count by (__name__) ({{job=~\"{Job}|{RabbitMqJob}\"}})")).Select(r => (string)r!["metric"]!["__name__"]!).ToHashSet(StringComparer.Ordinal);

    /// <summary>The loaded rules: (name, health, last error).</summary>
    public async Task<IReadOnlyList<(string Name, string Health, string? Error)>> RulesAsync() =>
        (await GetAsync("api/v1/rules"))["data"]!["groups"]!.AsArray().SelectMany(g => g!["rules"]!.AsArray())
            .Select(r => ((string)r!["name"]!, (string)r["health"]!, (string?)r["lastError"])).ToList();

    /// <summary>Alerts pending or firing: (name, state, labels).</summary>
    public async Task<IReadOnlyList<(string Name, string State, JsonObject Labels)>> AlertsAsync() =>
        (await GetAsync("api/v1/alerts"))["data"]!["alerts"]!.AsArray()
            .Select(a => ((string)a!["labels"]!["alertname"]!, (string)a["state"]!, a["labels"]!.AsObject())).ToList();

    private async Task<JsonNode> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        if ((string?)body["status"] != "success") throw new InvalidOperationException($"Prometheus answered {path} with {body.ToJsonString()}");
        return body;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
