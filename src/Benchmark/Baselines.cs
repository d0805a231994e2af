using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Messaging;
using Inventory.Contracts;
using MassTransit;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Benchmark;

/// <summary>The designs a team would otherwise write, and the ceilings of the broker and of MassTransit.</summary>
public static class Baselines
{
    /// <summary>Raw RabbitMQ.Client, no work, acks in bulk: the broker's ceiling.</summary>
    public static async Task<double> RawConsumeRateAsync(IConnection connection, string queue, int count)
    {
        await using var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(0, 2000, false);
        var received = 0;
        var done = new TaskCompletionSource();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, e) =>
        {
            if (++received % 500 == 0 || received == count) await channel.BasicAckAsync(e.DeliveryTag, multiple: true);
            if (received == count) done.TrySetResult();
        };
        var watch = Stopwatch.StartNew();
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        return count / watch.Elapsed.TotalSeconds;
    }

    /// <summary>MassTransit's plain consumer doing nothing: MassTransit's ceiling.</summary>
    public static Task<double> MassTransitConsumeRateAsync(Uri broker, string queue, int count) =>
        NoOpRateAsync(broker, queue, count, TimeSpan.FromMinutes(10), (e, counter) =>
        {
            e.PrefetchCount = 2000;
            e.Consumer(() => new NoOp(counter));
        });

    /// <summary>
    /// MassTransit's Batch&lt;T&gt; consumer doing nothing, with the service's batch settings (limit × concurrency and
    /// the prefetch they imply): the ceiling of a design built on MassTransit batch consumers as they come. Its
    /// acknowledgements come out of delivery order, which RabbitMQ 3.x makes expensive (see AckOrder in the service).
    /// </summary>
    public static Task<double> MassTransitBatchConsumeRateAsync(Uri broker, string queue, int count, TimeSpan box, RabbitMqOptions batch) =>
        NoOpRateAsync(broker, queue, count, box, (e, counter) => BatchEndpoint(e, batch, () => new BatchNoOp(counter)));

    /// <summary>
    /// The same no-op Batch&lt;T&gt; consumer returning its batches in delivery order, as the service does (its
    /// AckOrder): the ceiling of the service's own design, before any coalescing or writing.
    /// </summary>
    public static Task<double> MassTransitBatchInOrderRateAsync(Uri broker, string queue, int count, TimeSpan box, RabbitMqOptions batch)
    {
        var order = new AckOrder(TimeProvider.System);
        return NoOpRateAsync(broker, queue, count, box, (e, counter) => BatchEndpoint(e, batch, () => new BatchNoOpInOrder(counter, order)), order);
    }

    /// <summary>
    /// A Batch&lt;T&gt; endpoint as the service configures it, prefetch included: the service's BatchOptions raise the
    /// prefetch to limit × concurrency, while <c>e.Batch</c> leaves it at its default of a few messages (batches then
    /// close on their time limit nearly empty: ~1.3k events/s with both CPUs idle, measured).
    /// </summary>
    private static void BatchEndpoint<TConsumer>(IRabbitMqReceiveEndpointConfigurator e, RabbitMqOptions batch, Func<TConsumer> consumer)
        where TConsumer : class, IConsumer<Batch<HostProvisioned>>
    {
        e.PrefetchCount = batch.BatchMessageLimit * batch.BatchConcurrency;
        e.Batch<HostProvisioned>(b =>
        {
            b.MessageLimit = batch.BatchMessageLimit;
            b.ConcurrencyLimit = batch.BatchConcurrency;
            b.TimeLimit = batch.BatchTimeLimit;
            b.Consumer(consumer);
        });
    }

    /// <summary>Events per second a consumer doing nothing takes from the queue, until it has all or the box ends.</summary>
    private static async Task<double> NoOpRateAsync(Uri broker, string queue, int count, TimeSpan box, Action<IRabbitMqReceiveEndpointConfigurator, Counter> consumer,
        IReceiveObserver? observer = null)
    {
        var counter = new Counter(count);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(broker);
            cfg.ReceiveEndpoint(queue, e =>
            {
                e.ConfigureConsumeTopology = false;
                e.SingleActiveConsumer = true;
                e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                consumer(e, counter);
            });
        });
        if (observer is not null) bus.ConnectReceiveObserver(observer);
        var watch = Stopwatch.StartNew();
        await bus.StartAsync();
        await Task.WhenAny(counter.Done, Task.Delay(box));
        var rate = counter.Count / watch.Elapsed.TotalSeconds;
        await bus.StopAsync();
        return rate;
    }

    /// <summary>One upsert per event through the same account limiter (time-boxed).</summary>
    public static Task<(int Events, double Seconds)> NaiveAsync(Uri broker, string queue, Uri flashduty, string key, IReadOnlyList<string> schemas, TimeSpan box) =>
        RunBoxedAsync(broker, queue, box, writer => e => e.Consumer(() => new NaiveConsumer(writer, schemas)), flashduty, key);

    /// <summary>MassTransit Batch&lt;T&gt; with a 1 s time limit, one upsert per batch and schema, no group commit (time-boxed).</summary>
    public static Task<(int Events, double Seconds)> FixedWindowAsync(Uri broker, string queue, Uri flashduty, string key, IReadOnlyList<string> schemas, TimeSpan box) =>
        RunBoxedAsync(broker, queue, box, writer => e =>
        {
            e.PrefetchCount = 2000;
            e.Batch<HostProvisioned>(b =>
            {
                b.MessageLimit = 1000;
                b.TimeLimit = TimeSpan.FromSeconds(1);
                // One batch at a time: two would collide on Flashduty's per-schema lock.
                b.ConcurrencyLimit = 1;
                b.Consumer(() => new FixedWindowConsumer(writer, schemas));
            });
        }, flashduty, key);

    private static async Task<(int, double)> RunBoxedAsync(Uri broker, string queue, TimeSpan box, Func<Writer, Action<IRabbitMqReceiveEndpointConfigurator>> consumer,
        Uri flashduty, string key)
    {
        await using var limiter = new AccountRateLimiter(new RateLimitOptions());
        var writer = new Writer(new HttpClient { BaseAddress = flashduty }, key, limiter);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(broker);
            cfg.ReceiveEndpoint(queue, e =>
            {
                e.ConfigureConsumeTopology = false;
                e.SingleActiveConsumer = true;
                e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                consumer(writer)(e);
            });
        });
        var watch = Stopwatch.StartNew();
        await bus.StartAsync();
        await Task.Delay(box);
        var events = writer.Events;
        var seconds = watch.Elapsed.TotalSeconds;
        await bus.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return (events, seconds);
    }

    private sealed class Counter(int target)
    {
        private int _n;
        public TaskCompletionSource Tcs { get; } = new();
        public Task Done => Tcs.Task;

        public int Count => Volatile.Read(ref _n);

        public void Hit()
        {
            if (Interlocked.Increment(ref _n) == target) Tcs.TrySetResult();
        }
    }

    private sealed class BatchNoOp(Counter counter) : IConsumer<Batch<HostProvisioned>>
    {
        public Task Consume(ConsumeContext<Batch<HostProvisioned>> context)
        {
            for (var i = 0; i < context.Message.Length; i++) counter.Hit();
            return Task.CompletedTask;
        }
    }

    private sealed class BatchNoOpInOrder(Counter counter, AckOrder order) : IConsumer<Batch<HostProvisioned>>
    {
        public async Task Consume(ConsumeContext<Batch<HostProvisioned>> context)
        {
            var ticket = order.Enter(context.Message.Select(m => m.ReceiveContext));
            for (var i = 0; i < context.Message.Length; i++) counter.Hit();
            await order.LeaveAsync(ticket, context.CancellationToken);
        }
    }

    private sealed class NoOp(Counter counter) : IConsumer<HostProvisioned>
    {
        public Task Consume(ConsumeContext<HostProvisioned> context)
        {
            counter.Hit();
            return Task.CompletedTask;
        }
    }

    /// <summary>Keeps each host's labels (last arrival wins) and sends full rows through the limiter, retrying 429s.</summary>
    public sealed class Writer(HttpClient http, string key, AccountRateLimiter limiter)
    {
        private readonly Dictionary<string, Dictionary<string, string>> _rows = [];
        private int _events;
        public int Events => Volatile.Read(ref _events);

        public List<Dictionary<string, string>> Merge(IEnumerable<HostProvisioned> events)
        {
            lock (_rows)
            {
                var touched = new List<Dictionary<string, string>>();
                foreach (var e in events)
                {
                    Interlocked.Increment(ref _events);
                    var row = _rows.TryGetValue(e.Host, out var r) ? r : _rows[e.Host] = new() { ["host"] = e.Host };
                    if (e.Owner is not null) row["owner"] = e.Owner;
                    if (e.Team is not null) row["team"] = e.Team;
                    if (e.Service is not null) row["service"] = e.Service;
                    touched.Add(new Dictionary<string, string>(row));
                }

                return touched;
            }
        }

        public async Task UpsertAsync(string schema, IReadOnlyList<Dictionary<string, string>> docs, string[] labels)
        {
            var complete = docs.Where(d => labels.All(d.ContainsKey)).ToList();
            for (var i = 0; i < complete.Count; i += 1000)
            {
                while (true)
                {
                    using var permit = await limiter.AcquireAsync(CancellationToken.None);
                    using var response = await http.PostAsJsonAsync($"/enrichment/mapping/data/upsert?app_key={key}", new { schema_id = schema, docs = complete.Skip(i).Take(1000) });
                    if (response.IsSuccessStatusCode) break;
                    await Task.Delay(200);
                }
            }
        }
    }

    private static readonly string[] HostLabels = ["host", "owner", "team", "service"];
    private static readonly string[] ServiceLabels = ["service", "owner", "team"];

    private sealed class NaiveConsumer(Writer writer, IReadOnlyList<string> schemas) : IConsumer<HostProvisioned>
    {
        public async Task Consume(ConsumeContext<HostProvisioned> context)
        {
            var rows = writer.Merge([context.Message]);
            await writer.UpsertAsync(schemas[0], rows, HostLabels);
            await writer.UpsertAsync(schemas[1], rows, ServiceLabels);
        }
    }

    private sealed class FixedWindowConsumer(Writer writer, IReadOnlyList<string> schemas) : IConsumer<Batch<HostProvisioned>>
    {
        public async Task Consume(ConsumeContext<Batch<HostProvisioned>> context)
        {
            var rows = writer.Merge(context.Message.Select(m => m.Message));
            var byHost = rows.GroupBy(r => r["host"]).Select(g => g.Last()).ToList();
            var byService = rows.Where(r => r.ContainsKey("service")).GroupBy(r => r["service"]).Select(g => g.Last()).ToList();
            await writer.UpsertAsync(schemas[0], byHost, HostLabels);
            await writer.UpsertAsync(schemas[1], byService, ServiceLabels);
        }
    }
}
