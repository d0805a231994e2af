using System.Diagnostics;
using System.Globalization;
using System.Text;
using Flashduty.Simulator;
using RabbitMQ.Client;

namespace Benchmark;

/// <summary>
/// What quorum queues cost against classic ones (#15), in one run on the same broker: for each type, a backlog is
/// published (confirmed: the broker's ingest) and then drained by the service with <c>RabbitMq__QueueType</c> set
/// accordingly (its ingest, with its journal on queues of the same type), with the service's and the broker's peak RSS.
/// The types alternate over several rounds, so that a noisy machine shows as spread, not as a difference.
/// Usage: <c>Benchmark queue-types [--events N] [--rounds R] [--nodes host:port,…] [--out bench/queue-types.md]</c>;
/// RABBITMQ_URI names the broker (a node of scripts/cluster.sh's cluster for the replicated case).
/// </summary>
public static class QueueTypeScenario
{
    private const string Key = "bench-key";

    public static async Task<int> RunAsync(string[] args, Uri broker)
    {
        string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var events = int.Parse(Arg("--events") ?? "200000", CultureInfo.InvariantCulture);
        var rounds = int.Parse(Arg("--rounds") ?? "2", CultureInfo.InvariantCulture);
        var nodes = Arg("--nodes");
        var output = Arg("--out") ?? "bench/queue-types.md";
        var serviceDll = Path.Combine(AppContext.BaseDirectory, "Consumer.dll");

        await using var sim = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = [Key];
            o.Faults = new FaultOptions { LatencyMs = 30 };
        });
        BenchSetup.AddSchemas(sim.State);
        var factory = new ConnectionFactory { Uri = broker };
        await using var connection = nodes is null
            ? await factory.CreateConnectionAsync()
            : await factory.CreateConnectionAsync(nodes.Split(',').Select(n => AmqpTcpEndpoint.Parse(n.Trim())).ToList());
        var set = EventSet.Burst(events, 5_000, seed: 3);
        var results = new List<(string Type, double Publish, double Drain, long Requests, double ServiceRss, double BrokerRss)>();
        var failures = new List<string>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var type in round % 2 == 0 ? new[] { "classic", "quorum" } : new[] { "quorum", "classic" })
            {
                var queue = $"bench-qt-{Guid.NewGuid():N}"[..32];
                await BenchSetup.DeclareQueueAsync(connection, queue, type == "quorum" ? "quorum" : null);
                sim.State.Reset(rows: true);
                var brokerBefore = BrokerRssMb();
                var brokerPeak = brokerBefore;
                var watch = Stopwatch.StartNew();
                await using (var publisher = await InventoryPublisher.RawPublisher.ConnectAsync(broker))
                {
                    foreach (var chunk in set.Events.Chunk(2000))
                    {
                        await Task.WhenAll(chunk.Select(e => publisher.PublishAsync(e.Exchange, e.Body).AsTask()));
                        brokerPeak = Math.Max(brokerPeak, BrokerRssMb());
                    }
                }

                var publishRate = events / watch.Elapsed.TotalSeconds;
                var environment = new Dictionary<string, string>
                {
                    ["RabbitMq__Uri"] = broker.ToString(), ["RabbitMq__QueueName"] = queue, ["RabbitMq__QueueType"] = type,
                    ["Flashduty__BaseUrl"] = sim.BaseUrl.ToString(), ["Flashduty__AppKey"] = Key,
                    ["Flashduty__SchemaIds__0"] = BenchSetup.HostSchema, ["Flashduty__SchemaIds__1"] = BenchSetup.ServiceSchema,
                };
                if (nodes is not null) environment["RabbitMq__Nodes"] = nodes;
                double seconds, serviceRss;
                await using (var service = await ServiceProcess.StartAsync(serviceDll, environment, 18083))
                {
                    watch.Restart();
                    var deadline = DateTime.UtcNow.AddMinutes(10);
                    while (!BenchSetup.RowsMatch(sim.State, set))
                    {
                        if (DateTime.UtcNow > deadline)
                        {
                            failures.Add($"{type}, round {round + 1}: rows do not match the model after 10 min");
                            break;
                        }

                        service.Sample();
                        brokerPeak = Math.Max(brokerPeak, BrokerRssMb());
                        await Task.Delay(200);
                    }

                    seconds = watch.Elapsed.TotalSeconds;
                    serviceRss = service.PeakRssMb;
                }

                await BenchSetup.DropQueuesAsync(connection, queue);
                var requests = sim.State.Stats.Requests("data/upsert") + sim.State.Stats.Requests("data/delete");
                results.Add((type, publishRate, events / seconds, requests, serviceRss, brokerPeak - brokerBefore));
                Console.WriteLine($"  {type} round {round + 1}: published {publishRate:0}/s, drained {events / seconds:0}/s, {requests} requests, service {serviceRss:0} MB, broker +{brokerPeak - brokerBefore:0} MB");
            }
        }

        var report = new StringBuilder($"# Queue types: classic against quorum\n\n{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, ");
        report.Append(nodes is null ? "one RabbitMQ node" : $"a RabbitMQ cluster of {nodes.Split(',').Length} nodes on the same machine ({nodes}; quorum queues replicated to all)");
        report.Append(CultureInfo.InvariantCulture, $", simulator at 30 ms. {events:N0} events over 5,000 hosts published (confirmed, batches of 2,000) into the service's queue, then drained by the service; {rounds} rounds, the types alternating (classic first in odd rounds, quorum first in even ones).\n\n");
        report.Append("Broker RSS: the peak over the round of every `beam.smp` process on the machine, less their sum when it began.\n\n");
        report.Append("| queue type | round | publish (broker ingest) events/s | service drain events/s | requests | service peak RSS | broker RSS growth |\n|---|---|---|---|---|---|---|\n");
        var roundOf = new Dictionary<string, int>();
        foreach (var r in results)
        {
            roundOf[r.Type] = roundOf.GetValueOrDefault(r.Type) + 1;
            report.Append(CultureInfo.InvariantCulture, $"| {r.Type} | {roundOf[r.Type]} | {r.Publish:0} | {r.Drain:0} | {r.Requests} | {r.ServiceRss:0} MB | {r.BrokerRss:0} MB |\n");
        }

        double Median(string type, Func<(string Type, double Publish, double Drain, long Requests, double ServiceRss, double BrokerRss), double> f)
        {
            var values = results.Where(r => r.Type == type).Select(f).Order().ToList();
            return values.Count == 0 ? double.NaN : values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
        }

        report.Append(CultureInfo.InvariantCulture,
            $"\nQuorum ÷ classic (medians): publish {Median("quorum", r => r.Publish) / Median("classic", r => r.Publish):0.00}×, drain {Median("quorum", r => r.Drain) / Median("classic", r => r.Drain):0.00}×, service RSS {Median("quorum", r => r.ServiceRss) / Median("classic", r => r.ServiceRss):0.00}×, broker RSS growth {Median("quorum", r => r.BrokerRss) / Median("classic", r => r.BrokerRss):0.00}×.\n");
        if (failures.Count > 0) report.Append("\n## Failures\n\n").AppendJoin('\n', failures.Select(f => "- " + f)).Append('\n');
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, report.ToString());
        Console.WriteLine(report);
        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>The resident memory of every RabbitMQ node on the machine (every <c>beam.smp</c>), in MB.</summary>
    private static double BrokerRssMb()
    {
        long kb = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() != "beam.smp") continue;
                var line = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (line is not null) kb += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return kb / 1024.0;
    }
}
