using System.Diagnostics;
using System.Globalization;
using System.Text;
using Flashduty.Simulator;
using Inventory.Contracts;
using RabbitMQ.Client;

namespace Benchmark;

/// <summary>
/// A full-account sync (#13): 20 schemas fed by the same 10,000 <c>HostProvisioned</c> events, so 200,000 changed rows
/// that each change once. The API-bound minimum is 200 upserts at 50/s: 4 s. The clock starts once the service is
/// ready (its schema loads done) and stops when the simulator holds every row.
/// </summary>
public static class FullSyncScenario
{
    private const string Key = "bench-key";
    public const int Schemas = 20;
    public const int Rows = 10_000;

    public static string SchemaId(int i) => $"665f1a2b3c4d5e6f7a8b{i:x4}";

    /// <summary>Runs it; returns the report's section, and a failure (or null).</summary>
    public static async Task<(string Section, string? Failure)> RunAsync(Uri broker, IConnection connection, string serviceDll)
    {
        await using var sim = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = [Key];
            o.Faults = new FaultOptions { LatencyMs = 30 };
            o.RecentRequests = 1000;
        });
        for (var i = 0; i < Schemas; i++) sim.State.AddSchema(SchemaId(i), $"sync_{i}", ["host"], ["owner", "team"], rowCap: Rows);
        var set = new EventSet();
        for (var h = 0; h < Rows; h++) set.Add(InventoryExchanges.HostProvisioned, $"h{h:00000}", $"owner-{h % 97}", $"team-{h % 13}", null, EventSet.T0);

        var queue = $"bench-fullsync-{Guid.NewGuid():N}"[..32];
        await BenchSetup.DeclareQueueAsync(connection, queue);
        var environment = new Dictionary<string, string>
        {
            ["RabbitMq__Uri"] = broker.ToString(), ["RabbitMq__QueueName"] = queue, ["Flashduty__BaseUrl"] = sim.BaseUrl.ToString(), ["Flashduty__AppKey"] = Key,
        };
        for (var i = 0; i < Schemas; i++)
        {
            environment[$"Flashduty__Schemas__{i}__Id"] = SchemaId(i);
            environment[$"Flashduty__Schemas__{i}__Events__0"] = "HostProvisioned";
        }

        var stored = new HashSet<(string, string)>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = new Stopwatch();
        var doneAt = TimeSpan.Zero;
        sim.State.RowsStored += (schema, rows) =>
        {
            lock (stored)
            {
                foreach (var row in rows) stored.Add((schema, row["host"]));
                if (stored.Count == Schemas * Rows && all.TrySetResult()) doneAt = clock.Elapsed;
            }
        };

        double peakRss;
        string section;
        string? failed;
        await using (var service = await ServiceProcess.StartAsync(serviceDll, environment, 18082))
        {
            var before = sim.State.Stats.Requests();
            clock.Start();
            await using (var publisher = await InventoryPublisher.RawPublisher.ConnectAsync(broker))
            {
                foreach (var chunk in set.Events.Chunk(2000)) await Task.WhenAll(chunk.Select(e => publisher.PublishAsync(e.Exchange, e.Body).AsTask()));
            }

            var published = clock.Elapsed;
            while (!all.Task.IsCompleted && clock.Elapsed < TimeSpan.FromMinutes(2))
            {
                service.Sample();
                await Task.WhenAny(all.Task, Task.Delay(200));
            }

            peakRss = service.PeakRssMb;
            var stats = sim.State.Stats;
            if (Environment.GetEnvironmentVariable("BENCH_TRACE") == "1")
            {
                foreach (var r in stats.Recent()) Console.WriteLine($"    {r.Time:HH:mm:ss.fff} {r.Endpoint} {r.SchemaId?[^4..]} docs={r.Count} {r.Status}");
                Console.WriteLine($"    clock started {DateTime.UtcNow - clock.Elapsed:HH:mm:ss.fff}");
            }

            var upserts = stats.Requests("data/upsert");
            var minimum = TimeSpan.FromSeconds(Schemas * Rows / 1000 / 50.0);
            var report = new StringBuilder();
            report.Append(CultureInfo.InvariantCulture, $"## 4. Full-account sync: {Schemas} schemas × {Rows:N0} changed rows ({Rows:N0} events, each feeding every schema)\n\n");
            report.Append(CultureInfo.InvariantCulture, $"API-bound minimum: {Schemas * Rows / 1000} upserts at 50/s = {minimum.TotalSeconds:0.#} s, counted from the service's readiness.\n\n");
            report.Append("| design | rows | upserts | other requests | 429s | events published in | all rows in Flashduty after | ÷ minimum | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n");
            report.Append(CultureInfo.InvariantCulture,
                $"| **this service** | {stored.Count:N0} of {Schemas * Rows:N0} | {upserts} | {stats.Requests() - before - upserts} | {stats.Total429} | {published.TotalSeconds:0.00} s | {(all.Task.IsCompleted ? $"{doneAt.TotalSeconds:0.00} s" : "not done in 2 min")} | {(all.Task.IsCompleted ? $"{doneAt / minimum:0.00}×" : "–")} | {peakRss:0} MB |\n\n");
            Console.WriteLine($"  full sync: {stored.Count} rows in {doneAt.TotalSeconds:0.00} s, {upserts} upserts, {stats.Total429} 429s");
            var failure = all.Task.IsCompleted ? null : $"full-account sync: {stored.Count} of {Schemas * Rows} rows stored after 2 min";
            section = report.ToString();
            failed = failure;
        }

        await BenchSetup.DropQueuesAsync(connection, queue); // once the service has stopped
        return (section, failed);
    }
}
