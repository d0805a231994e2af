using System.Collections.Concurrent;
using System.Diagnostics;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// The service on quorum queues over a three-node cluster (scripts/cluster.sh) loses the node that leads its queue
/// while events stream in, and the node comes back later: rows = model, nothing lost, the error queue holds exactly
/// the bad events. Prints how long consumption stalled. 20,000 events in CI; the fault suite runs it with
/// CLUSTER_FAULT_EVENTS=100000 CLUSTER_FAULT_KILL=1 (kill -9 instead of a clean stop).
/// </summary>
/// <remarks>
/// Issue #15: it failed in about half the runs, rows keeping older values, for two causes in the service (both when the
/// node that goes holds the service's connections): batches left waiting for ever by a journal commit whose term ended
/// during the pause after a failed append (JournalCommitterTests), and MassTransit's connection wedged by
/// RabbitMQ.Client 7.2.2 for three heartbeats, 60 s each by default (RabbitMqOptions.Heartbeat).
/// </remarks>
[Collection(ClusterCollection.Name)]
public sealed class ClusterFaultTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task QuorumQueues_NodeLeadingTheQueueLostWhileEventsStreamIn_LosesNothing_AndSetsAsideOnlyTheBadEvents()
    {
        var events = int.TryParse(Environment.GetEnvironmentVariable("CLUSTER_FAULT_EVENTS"), out var n) ? n : 20_000;
        var kill = Environment.GetEnvironmentVariable("CLUSTER_FAULT_KILL") == "1";
        var clock = Stopwatch.StartNew();
        await using var h = await SyncHarness.CreateAsync(cluster);
        // The service's own log (terms, journal, reads) in the failure's output: CI shows nothing else of the service.
        h.Settings["Logging:LogLevel:FlashdutySync"] = "Information";
        var logs = new CapturingLoggerProvider();
        var app = await h.StartServiceAsync(b => b.Logging.AddProvider(logs));
        try
        {
            await RunAsync(h, app, events, kill, clock);
        }
        catch
        {
            // MassTransit's fault lines (hundreds while the node is away) are left out; the first of each kind is kept.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (at, line) in logs.Timed)
            {
                if (!line.Contains("FlashdutySync", StringComparison.Ordinal) && !seen.Add(line.Length > 60 ? line[..60] : line)) continue;
                output.WriteLine($"{at:HH:mm:ss.fff} {(line.Length > 600 ? line[..600] + "…" : line)}");
            }

            throw;
        }
    }

    private async Task RunAsync(SyncHarness h, Microsoft.AspNetCore.Builder.WebApplication app, int events, bool kill, Stopwatch clock)
    {
        var deliveries = new DeliveryClock();
        app.Services.GetRequiredService<IBus>().ConnectReceiveObserver(deliveries);
        var victim = await cluster.LeaderAsync(h.Queue);
        // The publisher stays off the node that goes: the service is under test, not the publisher.
        await using var publisherConnection = await cluster.ConnectAsync("cluster fault publisher", onlyNode: victim % ClusterFixture.Nodes + 1);
        await using var publisher = await publisherConnection.CreateChannelAsync(new CreateChannelOptions(true, true));

        var hosts = new RowModel("host", "owner", "team", "service");
        var services = new RowModel("service", "owner", "team");
        var random = new Random(15);
        var bad = 0;
        var sent = 0;
        var (stoppedAtEvent, restartedAtEvent) = (0, 0);
        var newest = new Dictionary<string, (DateTimeOffset At, int Index, string Row, string Body)>();
        // Published in groups of 500 confirmed together (one confirmed publish at a time is ~100/s on a quorum queue here).
        var publishing = Task.Run(async () =>
        {
            var pending = new List<Task>();
            for (var i = 0; i < events; i++)
            {
                var host = $"h{random.Next(1000):000}";
                var at = T0.AddSeconds(random.Next(1_000_000));
                (string, string?)[] labels = [("host", host), ("owner", $"o{random.Next(40)}"), ("team", $"t{random.Next(5)}"), ("service", $"s{random.Next(20)}")];
                var body = new { host, owner = labels[1].Item2, team = labels[2].Item2, service = labels[3].Item2, occurredAt = at };
                pending.Add(Publish(publisher, InventoryExchanges.HostProvisioned, body));
                hosts.Apply(at, labels);
                if (!newest.TryGetValue(host, out var had) || at >= had.At)
                    newest[host] = (at, i, string.Join(",", labels.Select(l => l.Item2)), System.Text.Json.JsonSerializer.Serialize(body, System.Text.Json.JsonSerializerOptions.Web));
                services.Apply(at, labels);
                if (i % 1000 == 500)
                {
                    pending.Add(Publish(publisher, InventoryExchanges.HostProvisioned, new { owner = "x", occurredAt = T0, eventId = $"bad-{i}" }));
                    bad++;
                }

                if (pending.Count >= 500)
                {
                    await Task.WhenAll(pending);
                    pending.Clear();
                    Volatile.Write(ref sent, i + 1);
                }
            }

            await Task.WhenAll(pending);
            Volatile.Write(ref sent, events);
        });

        // The node goes a quarter into the stream and comes back three quarters into it, while publishing goes on.
        await Eventually.UntilAsync(() => Volatile.Read(ref sent) >= events / 4, TimeSpan.FromMinutes(2), "a quarter of the events published");
        var stoppedAt = clock.Elapsed;
        stoppedAtEvent = Volatile.Read(ref sent);
        await cluster.StopNodeAsync(victim, kill);
        await Eventually.UntilAsync(() => Volatile.Read(ref sent) >= events * 3 / 4 || publishing.IsCompleted, TimeSpan.FromMinutes(3), "three quarters published");
        restartedAtEvent = Volatile.Read(ref sent);
        await cluster.StartNodeAsync(victim);
        var startedAt = clock.Elapsed;
        await publishing;
        var published = clock.Elapsed;
        await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)) && services.Matches(h.Rows(SyncHarness.ServiceSchema)),
            TimeSpan.FromMinutes(3), () => "rows to match the model: " + hosts.Diff(h.Rows(SyncHarness.HostSchema)) + "; newest event of each wrong row at index " +
                string.Join(",", h.Rows(SyncHarness.HostSchema).Where(r => newest.TryGetValue(r.Key, out var n) && n.Row != string.Join(",", r.Value["host"], r.Value["owner"], r.Value["team"], r.Value["service"]))
                    .Select(r => $"{newest[r.Key].Index}{(deliveries.Received(newest[r.Key].Body) ? "" : " (never delivered)")}").Order()) + $" (node stopped after {stoppedAtEvent} sent, started after {restartedAtEvent})");
        var matched = clock.Elapsed;
        await h.DrainedAsync(TimeSpan.FromMinutes(1));
        var errors = await h.DrainErrorQueueAsync();
        // At least once: a bad event set aside while the node went may be set aside again when redelivered.
        Assert.Equal(bad, errors.Select(e => e.Body).Distinct().Count());
        Assert.All(errors, e => Assert.Contains("field 'host' is required", e.Headers["MT-Fault-Message"]));
        Assert.Equal(0u, await h.CountAsync(h.Queue));
        output.WriteLine($"cluster up in {cluster.StartTime.TotalSeconds:0.0} s; {events} events + {bad} bad; node {victim} (the queue's leader) " +
                         $"{(kill ? "killed -9" : "stopped")} at {stoppedAt.TotalSeconds:0.0} s, started again at {startedAt.TotalSeconds:0.0} s; " +
                         $"longest stall in deliveries after the loss {deliveries.LongestGapAfter(stoppedAt, clock).TotalSeconds:0.0} s; " +
                         $"all published at {published.TotalSeconds:0.0} s; rows = model at {matched.TotalSeconds:0.0} s; test {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static Task Publish(IChannel channel, string exchange, object body)
    {
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(body, System.Text.Json.JsonSerializerOptions.Web);
        return channel.BasicPublishAsync(exchange, "", mandatory: false, new BasicProperties { ContentType = "application/json", Persistent = true }, json).AsTask();
    }

    /// <summary>When each delivery reached the service: the longest gap after the node's loss is how long consuming stalled.</summary>
    private sealed class DeliveryClock : IReceiveObserver
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly ConcurrentQueue<TimeSpan> _times = new();

        public TimeSpan LongestGapAfter(TimeSpan since, Stopwatch testClock)
        {
            // Both clocks started within the same moment; the offset is what the service start took.
            var offset = testClock.Elapsed - _clock.Elapsed;
            var after = _times.Select(t => t + offset).Where(t => t >= since).Order().Prepend(since).ToList();
            return after.Zip(after.Skip(1), (a, b) => b - a).DefaultIfEmpty().Max();
        }

        private readonly ConcurrentDictionary<string, bool> _bodies = new(StringComparer.Ordinal);

        /// <summary>Whether this body reached the service (tells a loss in the broker or publisher from one in the service).</summary>
        public bool Received(string body) => _bodies.ContainsKey(body);

        public Task PreReceive(ReceiveContext context)
        {
            _bodies.TryAdd(System.Text.Encoding.UTF8.GetString(context.GetBody()), true);
            _times.Enqueue(_clock.Elapsed);
            return Task.CompletedTask;
        }

        public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

        public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class => Task.CompletedTask;

        public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;
    }
}
