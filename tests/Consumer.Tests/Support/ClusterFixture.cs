using System.Diagnostics;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Support;

/// <summary>
/// A three-node RabbitMQ cluster of this machine (scripts/cluster.sh: rabbit-c1..3@localhost, AMQP 5681-5683), with
/// the service on quorum queues over all three nodes. Started if it is not up (about half a minute), left running
/// for the next run unless this fixture started it.
/// </summary>
public sealed class ClusterFixture : RabbitMqFixture
{
    public const int Nodes = 3;
    private bool _started;

    public static string NodeList => string.Join(',', Enumerable.Range(1, Nodes).Select(n => $"localhost:{5680 + n}"));

    public override IReadOnlyDictionary<string, string> ServiceSettings => new Dictionary<string, string>
    {
        ["RabbitMq:Nodes"] = NodeList,
        ["RabbitMq:QueueType"] = "quorum",
    };

    public override IReadOnlyDictionary<string, object?> QueueArguments => new Dictionary<string, object?> { ["x-queue-type"] = "quorum" };

    public TimeSpan StartTime { get; private set; }

    public override async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        var status = await ScriptAsync("uri");
        var allUp = Enumerable.Range(1, Nodes).All(n => PortOpen(5680 + n));
        if (!allUp)
        {
            await ScriptAsync("up");
            _started = true;
        }

        StartTime = clock.Elapsed;
        Uri = new Uri(status.Split(',')[0].Trim());
        Connected(await ConnectAsync("tests"));
    }

    /// <summary>A connection that tries every node, and recovers onto another when its node goes.</summary>
    public Task<IConnection> ConnectAsync(string name, int? onlyNode = null) =>
        new ConnectionFactory { Uri = Uri, ClientProvidedName = name, NetworkRecoveryInterval = TimeSpan.FromMilliseconds(500) }
            .CreateConnectionAsync(Enumerable.Range(1, Nodes).Where(n => onlyNode is null || n == onlyNode).Select(n => new AmqpTcpEndpoint("localhost", 5680 + n)).ToList());

    public async Task<int> LeaderAsync(string queue) => int.Parse((await ScriptAsync("leader", queue)).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    public Task StopNodeAsync(int node, bool kill = false) => ScriptAsync(kill ? ["stop-node", $"{node}", "--kill"] : ["stop-node", $"{node}"]);

    public Task StartNodeAsync(int node) => ScriptAsync("start-node", $"{node}");

    /// <summary>rabbitmqctl against the first node that is up.</summary>
    protected override Task<string> RabbitMqCtlAsync(params string[] args)
    {
        var node = Enumerable.Range(1, Nodes).First(n => PortOpen(5680 + n));
        return ScriptAsync(["ctl", $"{node}", .. args]);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_started && Environment.GetEnvironmentVariable("KEEP_CLUSTER") != "1") await ScriptAsync("down");
    }

    private static bool PortOpen(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static async Task<string> ScriptAsync(params string[] args)
    {
        var script = FindScript();
        using var process = Process.Start(new ProcessStartInfo("bash", [script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"cluster.sh {string.Join(' ', args)} exited with {process.ExitCode}: {await error}");
        return await output;
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "cluster.sh");
            if (File.Exists(candidate)) return candidate;
        }

        throw new FileNotFoundException("scripts/cluster.sh not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
