using System.Diagnostics;
using System.Globalization;
using System.Text;
using Benchmark;
using Flashduty.Simulator;
using InventoryPublisher;
using RabbitMQ.Client;

// Benchmark: the pipeline against the designs a team would otherwise write, on the same events, in one run.
// Usage: dotnet run -c Release --project src/Benchmark -- [fault-suite|outage|queue-types …] [--quick] [--only burst|light|backlog|fullsync|window] [--no-baselines] [--backlog N] [--out bench/results.md]
// SERVICE_X=y in the environment reaches the service as X=y (runtime knobs, options).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var quick = args.Contains("--quick");
var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? "bench/results.md";
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var skipBaselines = args.Contains("--no-baselines");
// The batch baseline runs with the service's own batch settings.
var serviceBatch = new FlashdutySync.Messaging.RabbitMqOptions();
bool Runs(string scenario) => only is null || only == scenario;
var burstEvents = quick ? 20_000 : 200_000;
var hosts = quick ? 2_000 : 5_000;
var backlogEvents = args.SkipWhile(a => a != "--backlog").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(quick ? 100_000 : 1_000_000);
var lightSeconds = quick ? 10 : 30;
var timeBox = TimeSpan.FromSeconds(quick ? 10 : 20);
var broker = new Uri(Environment.GetEnvironmentVariable("RABBITMQ_URI") ?? "amqp://guest:guest@localhost:5672/");
if (args.FirstOrDefault() == "fault-suite") return await FaultSuite.RunAsync(args, broker);
if (args.FirstOrDefault() == "outage") return await OutageSuite.RunAsync(args, broker);
if (args.FirstOrDefault() == "queue-types") return await QueueTypeScenario.RunAsync(args, broker);
const string Key = "bench-key";
const string HostSchema = BenchSetup.HostSchema;
const string ServiceSchema = BenchSetup.ServiceSchema;
string[] schemas = [HostSchema, ServiceSchema];
var serviceDll = Path.Combine(AppContext.BaseDirectory, "Consumer.dll");

await using var sim = await SimulatorHost.StartAsync(o =>
{
    o.AppKeys = [Key];
    o.Faults = new FaultOptions { LatencyMs = 30 };
    o.RecentRequests = 100_000;
});
BenchSetup.AddSchemas(sim.State);
await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
var report = new StringBuilder($"# Benchmark results\n\n{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, RabbitMQ on the same machine, simulator with the documented limits (50/s, 1,000/min) and 30 ms latency.{(quick ? " Quick run (scaled down)." : "")}\n\n");
var failures = new List<string>();
var publishRate = double.NaN;

async Task<string> FreshQueueAsync(string design)
{
    var queue = $"bench-{design}-{Guid.NewGuid():N}"[..32];
    await BenchSetup.DeclareQueueAsync(connection, queue);
    return queue;
}

Task DropQueuesAsync(string queue) => BenchSetup.DropQueuesAsync(connection, queue);

async Task<double> PublishAsync(EventSet set, int? perSecond = null, Action<int>? published = null)
{
    await using var publisher = await RawPublisher.ConnectAsync(broker);
    var watch = Stopwatch.StartNew();
    var pending = new List<Task>();
    for (var i = 0; i < set.Events.Count; i++)
    {
        if (perSecond is { } rate)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            if (due > watch.Elapsed) await Task.Delay(due - watch.Elapsed);
            published?.Invoke(i);
        }

        pending.Add(publisher.PublishAsync(set.Events[i].Exchange, set.Events[i].Body).AsTask());
        if (pending.Count >= 2000)
        {
            await Task.WhenAll(pending);
            pending.Clear();
        }
    }

    await Task.WhenAll(pending);
    return set.Events.Count / watch.Elapsed.TotalSeconds;
}

bool RowsMatch(EventSet set) => BenchSetup.RowsMatch(sim.State, set);

Dictionary<string, string> ServiceEnvironment(string queue) => new()
{
    ["RabbitMq__Uri"] = broker.ToString(), ["RabbitMq__QueueName"] = queue, ["Flashduty__BaseUrl"] = sim.BaseUrl.ToString(),
    ["Flashduty__AppKey"] = Key, ["Flashduty__SchemaIds__0"] = HostSchema, ["Flashduty__SchemaIds__1"] = ServiceSchema,
};

async Task<(double Seconds, long Requests, long Throttled, double PeakRss)> RunPipelineAsync(EventSet set, string queue, bool publishFirst,
    IReadOnlyDictionary<string, string>? extra = null)
{
    sim.State.Reset(rows: true);
    if (publishFirst) await PublishAsync(set);
    var environment = ServiceEnvironment(queue);
    foreach (var (k, v) in extra ?? new Dictionary<string, string>()) environment[k] = v;
    await using var service = await ServiceProcess.StartAsync(serviceDll, environment, 18080);
    // The clock starts once the service is ready: its start-up (process, schema loads) is not ingest.
    var watch = Stopwatch.StartNew();
    if (!publishFirst) publishRate = await PublishAsync(set);
    var deadline = DateTime.UtcNow.AddMinutes(quick ? 5 : 30);
    while (!RowsMatch(set))
    {
        if (DateTime.UtcNow > deadline)
        {
            failures.Add($"pipeline rows do not match the model after {watch.Elapsed.TotalSeconds:0} s");
            break;
        }

        service.Sample();
        await Task.Delay(200);
    }

    var seconds = watch.Elapsed.TotalSeconds;
    var stats = sim.State.Stats;
    if (Environment.GetEnvironmentVariable("BENCH_TRACE") == "1")
    {
        var recent = stats.Recent().Where(r => r.Endpoint is "data/upsert" or "data/delete").ToList();
        var t0 = recent.FirstOrDefault()?.Time ?? default;
        foreach (var r in recent.Take(60)) Console.WriteLine($"    +{(r.Time - t0).TotalMilliseconds:0}ms {r.Endpoint} {r.SchemaId?[^2..]} docs={r.Count} {r.Status}");
    }
    return (seconds, stats.Requests("data/upsert") + stats.Requests("data/delete"), stats.Total429, service.PeakRssMb);
}

// The broker's and MassTransit's ceilings on the same events: each consumes a fresh queue holding all of them.
async Task<(double Raw, double MassTransit, double Batch, double InOrder)> CeilingsAsync(EventSet set) => (
    await CeilingAsync(set, "raw", "raw consume", q => Baselines.RawConsumeRateAsync(connection, q, set.Events.Count)),
    await CeilingAsync(set, "mt", "MassTransit consume", q => Baselines.MassTransitConsumeRateAsync(broker, q, set.Events.Count)),
    await CeilingAsync(set, "mtbatch", "MassTransit Batch<T> consume", q => Baselines.MassTransitBatchConsumeRateAsync(broker, q, set.Events.Count, timeBox, serviceBatch)),
    await CeilingAsync(set, "mtinorder", "MassTransit Batch<T> in delivery order consume", q => Baselines.MassTransitBatchInOrderRateAsync(broker, q, set.Events.Count, timeBox, serviceBatch)));

async Task<double> CeilingAsync(EventSet set, string design, string name, Func<string, Task<double>> consume)
{
    var q = await FreshQueueAsync(design);
    await PublishAsync(set);
    var rate = await consume(q);
    await DropQueuesAsync(q);
    Console.WriteLine($"  {name} {rate:0}/s");
    return rate;
}

// ---- Scenario 1: burst ----
if (Runs("burst"))
{
Console.WriteLine($"burst: {burstEvents} events over {hosts} hosts");
var burst = EventSet.Burst(burstEvents, hosts, seed: 1);
var lowerBound = burst.LowerBound;
var rows = new List<string>();

var rawRate = double.NaN;
var mtRate = double.NaN;
var batchRate = double.NaN;
var inOrderRate = double.NaN;
if (!skipBaselines)
{
(rawRate, mtRate, batchRate, inOrderRate) = await CeilingsAsync(burst);
rows.Add($"| raw RabbitMQ.Client consume (broker ceiling) | {burst.Events.Count} | – | – | – | – | {rawRate:0} | – | – |");
rows.Add($"| MassTransit IConsumer, no work (MassTransit ceiling) | {burst.Events.Count} | – | – | – | – | {mtRate:0} | – | – |");
rows.Add($"| MassTransit Batch<T> {serviceBatch.BatchMessageLimit} × {serviceBatch.BatchConcurrency}, no work (batch-consumer ceiling; time-boxed {timeBox.TotalSeconds:0} s) | {burst.Events.Count} | – | – | – | – | {batchRate:0} | – | – |");
rows.Add($"| the same, batches returned in delivery order like the service (this design's ceiling) | {burst.Events.Count} | – | – | – | – | {inOrderRate:0} | – | – |");
var q = "";
foreach (var (name, run) in new (string, Func<string, Task<(int Events, double Seconds)>>)[]
         {
             ("naive: one upsert per event", queue => Baselines.NaiveAsync(broker, queue, sim.BaseUrl, Key, schemas, timeBox)),
             ("fixed window: Batch<T> 1 s, one upsert per batch", queue => Baselines.FixedWindowAsync(broker, queue, sim.BaseUrl, Key, schemas, timeBox)),
         })
{
    sim.State.Reset(rows: true);
    q = await FreshQueueAsync("base");
    await PublishAsync(burst);
    var (events, seconds) = await run(q);
    await DropQueuesAsync(q);
    var requests = sim.State.Stats.Requests("data/upsert");
    var projected = events == 0 ? double.NaN : requests * (double)burst.Events.Count / events;
    rows.Add($"| {name} (time-boxed {timeBox.TotalSeconds:0} s) | {events} of {burst.Events.Count} | – | {requests} (≈{projected:0} for all) | {projected / lowerBound:0.#}× | {sim.State.Stats.Total429} | {events / seconds:0} | – | – |");
    Console.WriteLine($"  {name}: {events} events in {seconds:0.0} s, {requests} requests");
}
}

var pq = await FreshQueueAsync("pipeline");
var (pSeconds, pRequests, p429, pRss) = await RunPipelineAsync(burst, pq, publishFirst: false);
Console.WriteLine($"  (the publisher managed {publishRate:0} events/s while the service ran)");
await DropQueuesAsync(pq);
var pipelineRate = burst.Events.Count / pSeconds;
rows.Add($"| **this service** | {burst.Events.Count} | {burst.DistinctKeys("host")} + {burst.DistinctKeys("service")} | {pRequests} | {(double)pRequests / lowerBound:0.##}× | {p429} | {pipelineRate:0} | – | {pRss:0} MB |");
Console.WriteLine($"  pipeline: {pSeconds:0.0} s, {pRequests} requests, {p429} 429s, peak RSS {pRss:0} MB");
report.Append(CultureInfo.InvariantCulture, $"## 1. Burst: {burst.Events.Count:N0} events over {hosts:N0} hosts and 2 schemas, published as fast as possible\n\nLower bound: ceil(distinct keys/1000) per schema = {lowerBound} requests.\n\n");
report.Append("| design | events | distinct keys | requests | requests ÷ lower bound | 429s | events/s | latency p50/p99 | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n");
report.AppendJoin('\n', rows).Append('\n');
report.Append(CultureInfo.InvariantCulture, $"\nWhile the service ran, the publisher managed {publishRate:0} events/s on this box: the burst reached the service at that rate.\n");
report.Append(CultureInfo.InvariantCulture, $"\nPipeline ingest against the ceilings measured in the same run: {pipelineRate / mtRate:0.00}× MassTransit's plain consumer, {pipelineRate / batchRate:0.00}× MassTransit's batch consumer, {pipelineRate / inOrderRate:0.00}× the same in delivery order, {pipelineRate / rawRate:0.00}× raw RabbitMQ.Client.\n\n");
}

// ---- Scenario 2: light load ----
if (Runs("light"))
{
Console.WriteLine($"light load: 20 events/s for {lightSeconds} s");
var light = new EventSet();
for (var i = 0; i < 100; i++) light.Add(Inventory.Contracts.InventoryExchanges.HostProvisioned, $"l{i:000}", "seed", "sre", "svc-l", EventSet.T0);
var q = await FreshQueueAsync("light");
sim.State.Reset(rows: true);
await using (var service = await ServiceProcess.StartAsync(serviceDll, ServiceEnvironment(q), 18081))
{
    await PublishAsync(light);
    while (!RowsMatch(light)) await Task.Delay(100);
    var changes = new EventSet();
    for (var i = 0; i < 20 * lightSeconds; i++) changes.Add(Inventory.Contracts.InventoryExchanges.OwnerChanged, $"l{i % 100:000}", $"lat-{i}", null, null, EventSet.T0.AddMinutes(1).AddSeconds(i));
    var sent = new double[changes.Events.Count];
    var landed = new double[changes.Events.Count];
    var clock = Stopwatch.StartNew();
    sim.State.RowsStored += (schema, stored) =>
    {
        if (schema != HostSchema) return;
        foreach (var row in stored)
        {
            if (row["owner"].StartsWith("lat-", StringComparison.Ordinal) && int.TryParse(row["owner"].AsSpan(4), out var n) && landed[n] == 0) landed[n] = clock.Elapsed.TotalMilliseconds;
        }
    };
    await PublishAsync(changes, perSecond: 20, published: i => sent[i] = clock.Elapsed.TotalMilliseconds);
    var until = DateTime.UtcNow.AddSeconds(30);
    while (landed.Count(l => l == 0) > 0 && DateTime.UtcNow < until) await Task.Delay(100);
    var latencies = sent.Zip(landed).Where(x => x.Second > 0).Select(x => x.Second - x.First).Order().ToList();
    double P(double p) => latencies.Count == 0 ? double.NaN : latencies[(int)Math.Min(latencies.Count - 1, Math.Floor(p * latencies.Count))];
    report.Append(CultureInfo.InvariantCulture, $"## 2. Light load: 20 events/s for {lightSeconds} s (publish → confirmed by Flashduty)\n\n| design | events | landed | p50 | p95 | p99 | requests | simulator latency |\n|---|---|---|---|---|---|---|---|\n");
    report.Append(CultureInfo.InvariantCulture, $"| **this service** | {sent.Length} | {latencies.Count} | {P(0.5):0} ms | {P(0.95):0} ms | {P(0.99):0} ms | {sim.State.Stats.Requests("data/upsert")} | 30 ms |\n\n");
    Console.WriteLine($"  p50 {P(0.5):0} ms, p99 {P(0.99):0} ms");
    if (latencies.Count < sent.Length) failures.Add($"light load: {sent.Length - latencies.Count} changes never landed");
}

await DropQueuesAsync(q);
}

// ---- Scenario 3: backlog ----
if (Runs("backlog"))
{
Console.WriteLine($"backlog: {backlogEvents} events queued before the service starts");
var backlog = EventSet.Burst(backlogEvents, hosts, seed: 2);
var (bRaw, bMt, bBatch, bInOrder) = skipBaselines ? (double.NaN, double.NaN, double.NaN, double.NaN) : await CeilingsAsync(backlog);
var q = await FreshQueueAsync("backlog");
var (bSeconds, bRequests, b429, bRss) = await RunPipelineAsync(backlog, q, publishFirst: true);
await DropQueuesAsync(q);
var bLower = backlog.LowerBound;
var bRate = backlogEvents / bSeconds;
report.Append(CultureInfo.InvariantCulture, $"## 3. Backlog: {backlogEvents:N0} events queued before the service starts\n\nLower bound: {bLower} requests.\n\n| design | events | requests | requests ÷ lower bound | 429s | drain events/s | peak RSS |\n|---|---|---|---|---|---|---|\n");
if (!skipBaselines)
{
    report.Append(CultureInfo.InvariantCulture, $"| raw RabbitMQ.Client consume (broker ceiling) | {backlogEvents} | – | – | – | {bRaw:0} | – |\n");
    report.Append(CultureInfo.InvariantCulture, $"| MassTransit IConsumer, no work (MassTransit ceiling) | {backlogEvents} | – | – | – | {bMt:0} | – |\n");
    report.Append(CultureInfo.InvariantCulture, $"| MassTransit Batch<T> {serviceBatch.BatchMessageLimit} × {serviceBatch.BatchConcurrency}, no work (batch-consumer ceiling; time-boxed {timeBox.TotalSeconds:0} s) | {backlogEvents} | – | – | – | {bBatch:0} | – |\n");
    report.Append(CultureInfo.InvariantCulture, $"| the same, batches returned in delivery order like the service (this design's ceiling) | {backlogEvents} | – | – | – | {bInOrder:0} | – |\n");
}

report.Append(CultureInfo.InvariantCulture, $"| **this service** | {backlogEvents} | {bRequests} | {(double)bRequests / bLower:0.##}× | {b429} | {bRate:0} | {bRss:0} MB |\n\n");

if (!skipBaselines) report.Append(CultureInfo.InvariantCulture, $"Drain rate against the ceilings measured in the same run: {bRate / bMt:0.00}× MassTransit's plain consumer, {bRate / bBatch:0.00}× MassTransit's batch consumer, {bRate / bInOrder:0.00}× the same in delivery order, {bRate / bRaw:0.00}× raw RabbitMQ.Client.\n\n");
Console.WriteLine($"  drained in {bSeconds:0.0} s ({backlogEvents / bSeconds:0}/s), {bRequests} requests, peak RSS {bRss:0} MB");
}

// ---- Scenario 4: a full-account sync, 20 schemas × 10,000 changed rows (FullSyncScenario) ----
if (Runs("fullsync"))
{
    Console.WriteLine("full-account sync: 20 schemas × 10,000 rows");
    var (section, failure) = await FullSyncScenario.RunAsync(broker, connection, serviceDll);
    report.Append(section);
    if (failure is not null) failures.Add(failure);
}

// ---- Window sweep (only with --only window): what the prefetch window buys in requests and costs in memory ----
if (only == "window")
{
var sweepBacklog = args.Contains("--backlog") ? backlogEvents : 300_000;
var burst = EventSet.Burst(burstEvents, hosts, seed: 1);
var backlog = EventSet.Burst(sweepBacklog, hosts, seed: 2);
report.Append(CultureInfo.InvariantCulture, $"## Window sweep: events held unacknowledged while they coalesce (`RabbitMq__BatchConcurrency` × {serviceBatch.BatchMessageLimit})\n\n");
report.Append(CultureInfo.InvariantCulture, $"Burst: {burst.Events.Count:N0} events over {hosts:N0} hosts published while the service runs (lower bound {burst.LowerBound} requests). Backlog: {sweepBacklog:N0} events queued before it starts (lower bound {backlog.LowerBound}).\n\n");
report.Append("| window (events) | burst requests | ÷ lower bound | burst peak RSS | backlog requests | backlog drain events/s | backlog peak RSS |\n|---|---|---|---|---|---|---|\n");
foreach (var concurrency in new[] { 100, 200, 400, 800 })
{
    var extra = new Dictionary<string, string> { ["RabbitMq__BatchConcurrency"] = concurrency.ToString(CultureInfo.InvariantCulture) };
    var q = await FreshQueueAsync("sweep");
    var (_, burstRequests, _, burstRss) = await RunPipelineAsync(burst, q, publishFirst: false, extra);
    await DropQueuesAsync(q);
    q = await FreshQueueAsync("sweep");
    var (seconds, backlogRequests, _, backlogRss) = await RunPipelineAsync(backlog, q, publishFirst: true, extra);
    await DropQueuesAsync(q);
    var window = concurrency * serviceBatch.BatchMessageLimit;
    report.Append(CultureInfo.InvariantCulture, $"| {window:N0} | {burstRequests} | {(double)burstRequests / burst.LowerBound:0.#}× | {burstRss:0} MB | {backlogRequests} | {sweepBacklog / seconds:0} | {backlogRss:0} MB |\n");
    Console.WriteLine($"  window {window}: burst {burstRequests} requests {burstRss:0} MB; backlog {backlogRequests} requests {sweepBacklog / seconds:0}/s {backlogRss:0} MB");
}

report.Append('\n');
}

if (failures.Count > 0) report.Append("## Failures\n\n").AppendJoin('\n', failures.Select(f => "- " + f)).Append('\n');
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
await File.WriteAllTextAsync(output, report.ToString());
Console.WriteLine(report);
return failures.Count == 0 ? 0 : 1;
