using System.Diagnostics;
using System.Globalization;
using System.Text;
using Flashduty.Simulator;
using RabbitMQ.Client;

namespace Benchmark;

/// <summary>
/// Two fault scenarios of the row journal (#13), each ending with rows = model, the error queue empty and 0 429s:
/// <list type="bullet">
/// <item>outage: every Flashduty call answers 503 for <c>--outage-minutes</c> (5) while <c>--events</c> (100,000) arrive;
/// the service's queue must stay near empty (events acknowledged once journaled), its memory bounded, and the rows
/// written once Flashduty is back;</item>
/// <item>rolling: two replicas restarted one after the other <c>--restarts</c> (5) times while events stream in; never two
/// writes to one schema at once (the simulator's schema lock counts conflicts).</item>
/// </list>
/// Usage: Benchmark outage [--events N] [--outage-minutes M] [--restarts R] [--only outage|rolling] [--verbose] [--out FILE]
/// </summary>
public static class OutageSuite
{
    private const string Key = "fault-key";

    public static async Task<int> RunAsync(string[] args, Uri broker)
    {
        var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
        ServiceProcess.Verbose = args.Contains("--verbose");
        var report = new StringBuilder();
        var ok = true;
        if (only is null or "outage") ok &= await OutageAsync(args, broker, report);
        if (only is null or "rolling") ok &= await RollingAsync(args, broker, report);
        Console.WriteLine(report);
        var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault();
        if (output is not null) await File.WriteAllTextAsync(output, report.ToString());
        Console.WriteLine(ok ? "outage suite: PASSED" : "outage suite: FAILED");
        return ok ? 0 : 1;
    }

    private static async Task<bool> OutageAsync(string[] args, Uri broker, StringBuilder report)
    {
        var events = FaultSuite.IntArg(args, "--events", 100_000);
        var minutes = FaultSuite.IntArg(args, "--outage-minutes", 5);
        await using var sim = await SimulatorHost.StartAsync(o => o.AppKeys = [Key]);
        BenchSetup.AddSchemas(sim.State);
        var (set, _) = FaultSuite.Generate(events, Math.Max(50, events / 25), new Random(11));
        var queue = await NewQueueAsync(broker, "outage");
        var watch = Stopwatch.StartNew();
        await using var service = await FaultSuite.StartWithRetryAsync(Path.Combine(AppContext.BaseDirectory, "Consumer.dll"), Environment(broker, queue, sim), 19500);

        sim.State.Faults = new FaultOptions { ServerErrorRate = 1.0, Seed = 1 };
        Console.WriteLine($"outage: every call 503 for {minutes} min while {events:N0} events arrive (queue {queue})");
        var counts = new FaultSuite.Counts();
        var publishing = FaultSuite.PublishAllAsync(broker, set, [], perSecond: Math.Max(100, events / (minutes * 60 * 9 / 10)), counts);
        long maxBacklog = 0;
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < TimeSpan.FromMinutes(minutes))
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            service.Sample();
            var backlog = await FaultSuite.QueueCountAsync(broker, queue) + await FaultSuite.UnacknowledgedAsync(broker, queue);
            maxBacklog = Math.Max(maxBacklog, backlog);
            Console.WriteLine($"  +{watch.Elapsed.TotalSeconds:0}s published {counts.Published:N0}, in the queue or unacknowledged {backlog:N0}, peak RSS {service.PeakRssMb:0} MB");
        }

        await publishing;
        var journal = await FaultSuite.QueueCountAsync(broker, queue + "_journal");
        var failedCalls = sim.State.Stats.Requests();
        sim.State.Faults = new FaultOptions();
        var healed = Stopwatch.StartNew();
        var matched = await UntilAsync(async () => BenchSetup.RowsMatch(sim.State, set) && await FaultSuite.QueueCountAsync(broker, queue) == 0, TimeSpan.FromMinutes(5));
        var recovery = healed.Elapsed;
        var errors = await FaultSuite.DrainAsync(broker, queue + "_error");
        var stats = sim.State.Stats;
        var after = stats.Requests() - failedCalls;
        report.AppendLine(CultureInfo.InvariantCulture, $"## Flashduty outage ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        report.AppendLine();
        report.AppendLine("| what | value |\n|---|---|");
        report.AppendLine(CultureInfo.InvariantCulture, $"| events published during the outage ({minutes} min, every call 503) | {counts.Published:N0} over {set.Hosts.Count:N0} hosts |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| most events in the queue or unacknowledged, sampled every 5 s | {maxBacklog:N0} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| journal records at the end of the outage | {journal:N0} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| peak RSS of the service | {service.PeakRssMb:0} MB |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| Flashduty calls during the outage (all refused) / after it | {failedCalls:N0} / {after:N0} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| rows equal the model / time after Flashduty was back | {(matched ? "yes" : "NO")} / {recovery.TotalSeconds:0.0} s |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| error queue / 429s (account rate, schema lock) | {errors.Count} / {stats.ThrottledBy(SimStats.Causes.AccountRate)}, {stats.ThrottledBy(SimStats.Causes.SchemaLock)} |");
        report.AppendLine();
        await DropAsync(broker, queue);
        // "Near empty": at most a few windows' worth in hand at any sample (5,000 events prefetched per window).
        return matched && errors.Count == 0 && maxBacklog <= 20_000 && stats.ThrottledBy(SimStats.Causes.AccountRate) == 0;
    }

    private static async Task<bool> RollingAsync(string[] args, Uri broker, StringBuilder report)
    {
        var restarts = FaultSuite.IntArg(args, "--restarts", 5);
        var events = FaultSuite.IntArg(args, "--rolling-events", 40_000);
        await using var sim = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = [Key];
            o.Faults = new FaultOptions { LatencyMs = 30, LatencyJitterMs = 70, Seed = 2 };
        });
        BenchSetup.AddSchemas(sim.State);
        var (set, _) = FaultSuite.Generate(events, Math.Max(50, events / 25), new Random(13));
        var queue = await NewQueueAsync(broker, "rolling");
        var dll = Path.Combine(AppContext.BaseDirectory, "Consumer.dll");
        var environment = Environment(broker, queue, sim);
        var counts = new FaultSuite.Counts();
        var watch = Stopwatch.StartNew();
        var replicas = new[] { await FaultSuite.StartWithRetryAsync(dll, environment, 19600), await FaultSuite.StartWithRetryAsync(dll, environment, 19601) };
        var publishing = FaultSuite.PublishAllAsync(broker, set, [], perSecond: Math.Max(200, events / 60), counts);
        for (var r = 0; r < restarts; r++)
        {
            for (var i = 0; i < replicas.Length; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(3));
                await replicas[i].DisposeAsync(); // SIGTERM: quiesce, journal released cleanly
                replicas[i] = await FaultSuite.StartWithRetryAsync(dll, environment, 19600 + i + 2 * (r + 1));
                Console.WriteLine($"  +{watch.Elapsed.TotalSeconds:0}s restarted replica {i + 1} (round {r + 1}), published {counts.Published:N0}");
            }
        }

        await publishing;
        var matched = await UntilAsync(async () => BenchSetup.RowsMatch(sim.State, set) && await FaultSuite.QueueCountAsync(broker, queue) == 0 &&
                                                   await FaultSuite.UnacknowledgedAsync(broker, queue) == 0, TimeSpan.FromMinutes(3));
        foreach (var replica in replicas) await replica.DisposeAsync();
        foreach (var line in BenchSetup.Differences(sim.State, set).Take(8)) Console.WriteLine("  differs: " + line);
        var errors = await FaultSuite.DrainAsync(broker, queue + "_error");
        var stats = sim.State.Stats;
        report.AppendLine(CultureInfo.InvariantCulture, $"## Rolling restarts of two replicas ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {watch.Elapsed.TotalSeconds:0} s)");
        report.AppendLine();
        report.AppendLine("| what | value |\n|---|---|");
        report.AppendLine(CultureInfo.InvariantCulture, $"| events streamed / restarts (SIGTERM, then start) | {counts.Published:N0} / {restarts} × 2 replicas |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| rows equal the model | {(matched ? "yes" : "NO")} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| two writes to one schema at once (schema-lock conflicts) | {stats.ThrottledBy(SimStats.Causes.SchemaLock)} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| 429s (account rate) / error queue | {stats.ThrottledBy(SimStats.Causes.AccountRate)} / {errors.Count} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| Flashduty requests | {stats.Requests():N0} |");
        report.AppendLine();
        await DropAsync(broker, queue);
        return matched && errors.Count == 0 && stats.ThrottledBy(SimStats.Causes.SchemaLock) == 0 && stats.ThrottledBy(SimStats.Causes.AccountRate) == 0;
    }

    private static Dictionary<string, string> Environment(Uri broker, string queue, SimulatorHost sim) => new()
    {
        ["RabbitMq__Uri"] = broker.ToString(), ["RabbitMq__QueueName"] = queue, ["Flashduty__BaseUrl"] = sim.BaseUrl.ToString(),
        ["Flashduty__AppKey"] = Key, ["Flashduty__SchemaIds__0"] = BenchSetup.HostSchema, ["Flashduty__SchemaIds__1"] = BenchSetup.ServiceSchema,
        ["Sync__RetryInterval"] = "00:00:01", ["Sync__ProbeInterval"] = "00:00:02",
    };

    private static async Task<string> NewQueueAsync(Uri broker, string prefix)
    {
        var queue = $"{prefix}-{Guid.NewGuid():N}"[..24];
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await BenchSetup.DeclareQueueAsync(connection, queue);
        return queue;
    }

    private static async Task DropAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await BenchSetup.DropQueuesAsync(connection, queue);
    }

    private static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(500);
        }

        return true;
    }
}
