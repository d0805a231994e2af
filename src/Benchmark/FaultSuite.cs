using System.Diagnostics;
using System.Globalization;
using System.Text;
using Flashduty.Simulator;
using Inventory.Contracts;
using InventoryPublisher;
using RabbitMQ.Client;

namespace Benchmark;

/// <summary>
/// The long fault suite: events published while the service is killed with kill -9 at random moments and restarted,
/// RabbitMQ restarted once mid-run, against a Flashduty that fails 20% of calls with 5xx, throttles 5% and answers in
/// 50–500 ms. At the end the rows must equal the model of the events, the error queue must hold exactly the
/// deliberately bad events, and the queues must be empty. Exits non-zero otherwise.
/// Usage: Benchmark fault-suite [--events N] [--kills K] [--no-broker-restart]
/// </summary>
public static class FaultSuite
{
    private const string Key = "fault-key";
    private const string HostSchema = BenchSetup.HostSchema;
    private const string ServiceSchema = BenchSetup.ServiceSchema;

    public static async Task<int> RunAsync(string[] args, Uri broker)
    {
        var events = IntArg(args, "--events", 50_000);
        var kills = IntArg(args, "--kills", 10);
        var restartBroker = !args.Contains("--no-broker-restart");
        var seed = IntArg(args, "--seed", 7);
        var random = new Random(seed);
        ServiceProcess.Verbose = args.Contains("--verbose");
        if (restartBroker && !broker.IsLoopback)
        {
            Console.WriteLine($"RabbitMQ at {broker.Host} is not on this machine: it cannot be restarted from here (use --no-broker-restart)");
            return 2;
        }

        await using var sim = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = [Key];
            o.Faults = new FaultOptions { ServerErrorRate = 0.2, ThrottleRate = 0.05, LatencyMs = 50, LatencyJitterMs = 450, Seed = seed };
        });
        BenchSetup.AddSchemas(sim.State);

        var (set, bad) = Generate(events, Math.Max(50, events / 25), random);
        var queue = $"fault-{Guid.NewGuid():N}"[..24];
        await using (var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync()) await BenchSetup.DeclareQueueAsync(connection, queue);
        Console.WriteLine($"fault suite: {set.Events.Count:N0} events + {bad.Count} bad ones, {kills} kills, broker restart: {(restartBroker ? "yes" : "no")}, queue {queue}");

        var dll = Path.Combine(AppContext.BaseDirectory, "Consumer.dll");
        var environment = new Dictionary<string, string>
        {
            ["RabbitMq__Uri"] = broker.ToString(), ["RabbitMq__QueueName"] = queue, ["Flashduty__BaseUrl"] = sim.BaseUrl.ToString(),
            ["Flashduty__AppKey"] = Key, ["Flashduty__SchemaIds__0"] = HostSchema, ["Flashduty__SchemaIds__1"] = ServiceSchema,
            ["Sync__RetryInterval"] = "00:00:01",
        };

        var watch = Stopwatch.StartNew();
        var counts = new Counts();
        // Publish at a pace that keeps events arriving across the kills (a fifth of the events before the first start).
        var publishing = PublishAllAsync(broker, set, bad, perSecond: Math.Max(500, events / 50), counts);
        var redelivered = 0L;
        var resumeFailed = false;
        var resumedAfter = TimeSpan.Zero;
        for (var k = 0; k < kills; k++)
        {
            var victim = await StartWithRetryAsync(dll, environment, 19300 + k);
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 4000)));
            if (restartBroker && k == kills / 2)
            {
                Console.WriteLine($"  +{watch.Elapsed.TotalSeconds:0}s restarting RabbitMQ (stop_app, start_app) under the running service");
                await RabbitMqCtlAsync("stop_app");
                await Task.Delay(TimeSpan.FromSeconds(2));
                await RabbitMqCtlAsync("start_app");
                await RabbitMqCtlAsync("await_startup");
                // The same process must take up its work again on its own, before it is killed.
                var back = Stopwatch.StartNew();
                while (await ConsumersAsync(broker, queue) == 0)
                {
                    if (back.Elapsed > TimeSpan.FromSeconds(90))
                    {
                        Console.WriteLine("FAIL: the service did not consume again within 90 s of RabbitMQ's restart");
                        resumeFailed = true;
                        break;
                    }

                    await Task.Delay(250);
                }

                resumedAfter = back.Elapsed;
                Console.WriteLine($"  +{watch.Elapsed.TotalSeconds:0}s the service consumes again, {resumedAfter.TotalSeconds:0.0} s after RabbitMQ was back");
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(2000, 5000)));
            }

            var unacked = await UnacknowledgedAsync(broker, queue);
            victim.KillHard();
            redelivered += unacked;
            Console.WriteLine($"  +{watch.Elapsed.TotalSeconds:0}s kill -9 #{k + 1} with {unacked} events unacknowledged (published so far: {counts.Published:N0})");
        }

        await publishing;
        Console.WriteLine($"  +{watch.Elapsed.TotalSeconds:0}s all events published ({counts.PublishRetries} publishes retried); starting the last service");
        var ok = true;
        await using (var survivor = await StartWithRetryAsync(dll, environment, 19399))
        {
            var deadline = DateTime.UtcNow.AddMinutes(10);
            while (!(BenchSetup.RowsMatch(sim.State, set) && await QueueCountAsync(broker, queue) == 0 && await QueueCountAsync(broker, queue + "_wait") == 0 &&
                     await UnacknowledgedAsync(broker, queue) == 0))
            {
                if (DateTime.UtcNow > deadline)
                {
                    Console.WriteLine("FAIL: rows did not match the model, or the queue did not drain, within 10 minutes");
                    ok = false;
                    break;
                }

                await Task.Delay(500);
            }
        }

        foreach (var line in BenchSetup.Differences(sim.State, set).Take(8)) Console.WriteLine("  differs: " + line);
        var errors = await DrainAsync(broker, queue + "_error");
        var waiting = await QueueCountAsync(broker, queue + "_wait");
        var badBodies = bad.Select(b => b.Body).ToHashSet();
        var unexpected = errors.Where(e => !badBodies.Contains(e)).ToList();
        var missing = badBodies.Where(b => !errors.Contains(b)).ToList();
        var duplicates = errors.Count - errors.Distinct().Count();
        var stats = sim.State.Stats;
        var failed = stats.Requests(status: 500) + stats.Requests(status: 502) + stats.Requests(status: 503) + stats.Requests(status: 429);
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"## Fault suite ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {watch.Elapsed.TotalSeconds:0} s)");
        report.AppendLine();
        report.AppendLine("| what | count |\n|---|---|");
        report.AppendLine(CultureInfo.InvariantCulture, $"| events published (+ deliberately bad) | {set.Events.Count:N0} (+ {bad.Count}) |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| kill -9 of the service | {kills} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| RabbitMQ restarts / the running service consumed again after | {(restartBroker ? 1 : 0)} / {(resumeFailed ? "never (90 s)" : $"{resumedAfter.TotalSeconds:0.0} s")} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| redeliveries (events unacknowledged at the kills) | {redelivered:N0} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| publishes retried (broker down) | {counts.PublishRetries} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| Flashduty requests / failed and retried (5xx, 429) | {stats.Requests():N0} / {failed:N0} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| 429s: injected / account rate / schema lock | {stats.ThrottledBy(SimStats.Causes.Injected)} / {stats.ThrottledBy(SimStats.Causes.AccountRate)} / {stats.ThrottledBy(SimStats.Causes.SchemaLock)} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| rows re-applied unchanged (duplicates after redelivery) | {stats.UnchangedRows:N0} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| error queue: bad events / unexpected / missing / set aside twice | {errors.Count - unexpected.Count - duplicates} / {unexpected.Count} / {missing.Count} / {duplicates} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| rows equal the model | {(BenchSetup.RowsMatch(sim.State, set) ? "yes" : "NO")} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| events left in the queue / wait queue | {await QueueCountAsync(broker, queue)} / {waiting} |");
        Console.WriteLine(report);

        ok &= !resumeFailed && BenchSetup.RowsMatch(sim.State, set) && unexpected.Count == 0 && missing.Count == 0 && waiting == 0 &&
              stats.ThrottledBy(SimStats.Causes.AccountRate) == 0 && stats.ThrottledBy(SimStats.Causes.SchemaLock) == 0;
        var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault();
        if (output is not null) await File.WriteAllTextAsync(output, report.ToString());
        await using (var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync()) await BenchSetup.DropQueuesAsync(connection, queue);
        Console.WriteLine(ok ? "fault suite: PASSED" : "fault suite: FAILED");
        return ok ? 0 : 1;
    }

    /// <summary>
    /// Host provisions and owner changes over random hosts with distinct, shuffled timestamps (so the model's
    /// last-writer-wins has no ties), plus one bad event in 1,000: half without a host, half not JSON at all.
    /// </summary>
    internal static (EventSet Set, List<(string Exchange, string Body)> Bad) Generate(int events, int hosts, Random random)
    {
        var set = new EventSet();
        var offsets = Enumerable.Range(0, events).OrderBy(_ => random.Next()).ToArray();
        for (var i = 0; i < events; i++)
        {
            // Every host is provisioned once (first in publishing order, not in time); then changes on random hosts.
            var host = i < hosts ? $"h{i:00000}" : $"h{random.Next(hosts):00000}";
            var at = EventSet.T0.AddMilliseconds(offsets[i] * 7);
            if (i < hosts || random.Next(4) == 0)
                set.Add(InventoryExchanges.HostProvisioned, host, $"owner-{random.Next(300)}", $"team-{random.Next(12)}", $"svc-{random.Next(40)}", at);
            else
                set.Add(InventoryExchanges.OwnerChanged, host, $"owner-{random.Next(300)}", null, null, at);
        }

        var bad = new List<(string, string)>();
        for (var i = 0; i < events / 1000; i++)
        {
            bad.Add(i % 2 == 0
                ? (InventoryExchanges.HostProvisioned, $"{{\"owner\":\"x\",\"occurredAt\":\"2026-11-01T00:00:00Z\",\"eventId\":\"bad-{i}\"}}")
                : (InventoryExchanges.OwnerChanged, $"{{\"host\":\"bad-{i}\", this is not JSON"));
        }

        return (set, bad);
    }

    internal static async Task PublishAllAsync(Uri broker, EventSet set, List<(string Exchange, string Body)> bad, int perSecond, Counts counts)
    {
        var all = set.Events.Select(e => (e.Exchange, e.Body)).ToList();
        for (var i = 0; i < bad.Count; i++) all.Insert((int)((long)(i + 1) * all.Count / (bad.Count + 1)), (bad[i].Exchange, (object)bad[i].Body));
        RawPublisher? publisher = null;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < all.Count;)
        {
            var due = TimeSpan.FromSeconds((double)i / perSecond);
            if (due > watch.Elapsed) await Task.Delay(due - watch.Elapsed);
            var chunk = all.Skip(i).Take(200).ToList();
            try
            {
                publisher ??= await RawPublisher.ConnectAsync(broker);
                // Bounded: after a broker restart, confirms of a chunk published just before it may never come.
                await Task.WhenAll(chunk.Select(e => publisher.PublishAsync(e.Exchange, e.Body).AsTask())).WaitAsync(TimeSpan.FromSeconds(30));
                i += chunk.Count;
                counts.Published = i;
            }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.BrokerUnreachableException
                                          or RabbitMQ.Client.Exceptions.OperationInterruptedException or RabbitMQ.Client.Exceptions.PublishException
                                          or IOException or TimeoutException)
            {
                // Not confirmed: publish the chunk again once the broker is back (a duplicate is harmless: last writer wins).
                counts.PublishRetries += chunk.Count;
                if (publisher is not null)
                {
                    try
                    {
                        await publisher.DisposeAsync();
                    }
                    catch (Exception)
                    {
                        // The connection is gone already.
                    }
                }

                publisher = null;
                await Task.Delay(500);
            }
        }

        if (publisher is not null) await publisher.DisposeAsync();
    }

    internal static async Task<ServiceProcess> StartWithRetryAsync(string dll, Dictionary<string, string> environment, int port)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await ServiceProcess.StartAsync(dll, environment, port);
            }
            catch (Exception e) when (attempt < 3 && e is InvalidOperationException or TimeoutException)
            {
                Console.WriteLine($"  the service did not start ({e.Message}); again");
            }
        }
    }

    internal static async Task<uint> QueueCountAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0;
        }
    }

    private static async Task<uint> ConsumersAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount;
    }

    internal static async Task<List<string>> DrainAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var bodies = new List<string>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } got) bodies.Add(Encoding.UTF8.GetString(got.Body.Span));
        return bodies;
    }

    /// <summary>Deliveries the service holds unacknowledged, from the broker's own tool (AMQP does not tell it).</summary>
    internal static async Task<long> UnacknowledgedAsync(Uri broker, string queue)
    {
        var vhost = Uri.UnescapeDataString(broker.AbsolutePath.TrimStart('/'));
        var output = await RabbitMqCtlAsync("list_queues", "-p", vhost.Length == 0 ? "/" : vhost, "-q", "--no-table-headers", "name", "messages_unacknowledged");
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == queue) return long.Parse(parts[1], CultureInfo.InvariantCulture);
        }

        return 0;
    }

    private static async Task<string> RabbitMqCtlAsync(params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo("rabbitmqctl", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    internal static int IntArg(string[] args, string name, int fallback) =>
        args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    internal sealed class Counts
    {
        public int Published { get; set; }
        public int PublishRetries { get; set; }
    }
}
