using System.Text.Json;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// The account's rate budget outlives a replica: when the active replica dies or stops, the one that takes over
/// must not spend again what the last one spent in the same window. The active replica records, once a second,
/// when it sent its recent requests into a one-message queue (<c>&lt;queue&gt;_budget</c>); a replica that becomes
/// active (its first delivery) reads it and counts those permits as spent before sending anything, plus one full
/// second for what the predecessor may have sent after its last record.
/// </summary>
public sealed class BudgetLedger(IOptions<RabbitMqOptions> rabbit, IOptions<FlashdutyOptions> flashduty, AccountRateLimiter limiter, TimeProvider time,
    ILogger<BudgetLedger> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly ConfirmingChannel _broker = new(rabbit.Value, "flashduty-mapping-sync budget", (channel, token) =>
        channel.QueueDeclareAsync(rabbit.Value.BudgetQueue, durable: true, exclusive: false, autoDelete: false, arguments: rabbit.Value.QueueArguments(BudgetArguments),
            cancellationToken: token));

    /// <summary>One message, the newest (quorum queues support both since 3.8).</summary>
    public static readonly IReadOnlyDictionary<string, object?> BudgetArguments = new Dictionary<string, object?>
    {
        ["x-max-length"] = 1,
        ["x-overflow"] = "drop-head",
    };
    private int _activated;
    private DateTimeOffset _lastRecorded;

    private string Queue => rabbit.Value.BudgetQueue;

    /// <summary>Called on the first delivery this process gets: it has just become the active consumer.</summary>
    public void Activate()
    {
        if (Interlocked.Exchange(ref _activated, 1) == 1) return;
        limiter.HoldUntil(TakeOverAsync());
    }

    private async Task TakeOverAsync()
    {
        try
        {
            var channel = await ChannelAsync(CancellationToken.None);
            var got = await channel.BasicGetAsync(Queue, autoAck: false);
            if (got is null) return;
            await channel.BasicNackAsync(got.DeliveryTag, multiple: false, requeue: true);
            var record = JsonSerializer.Deserialize<Record>(got.Body.Span);
            if (record is null) return;
            var now = time.GetUtcNow();
            var recordedAt = DateTimeOffset.FromUnixTimeMilliseconds(record.At);
            if (now - recordedAt > TimeSpan.FromMinutes(1) + flashduty.Value.RateLimit.Margin) return;
            var sent = record.Sent.Select(DateTimeOffset.FromUnixTimeMilliseconds).ToList();
            // What the predecessor may have sent after its last record: at most a full second's worth.
            var unknown = now - recordedAt < TimeSpan.FromSeconds(1) + Interval ? flashduty.Value.RateLimit.PerSecond : 0;
            var lastSecond = sent.Count(t => now - t < TimeSpan.FromSeconds(1) + flashduty.Value.RateLimit.Margin) + unknown;
            var lastMinute = sent.Count(t => now - t < TimeSpan.FromMinutes(1) + flashduty.Value.RateLimit.Margin) + unknown;
            limiter.Reserve(lastSecond, lastMinute);
            Log.TookOver(logger, lastSecond, lastMinute);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Without the record, assume the worst: the predecessor may have spent the whole second and the whole minute.
            limiter.Reserve(flashduty.Value.RateLimit.PerSecond, flashduty.Value.RateLimit.PerMinute);
            Log.LedgerUnreadable(logger, ex.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await RecordAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Records this replica's recent requests, if it sent any since the last record.</summary>
    public async Task RecordAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _activated) == 0) return;
        var sent = limiter.Spent;
        if (sent.Count == 0 || sent[^1] <= _lastRecorded) return;
        try
        {
            var channel = await ChannelAsync(ct);
            var now = time.GetUtcNow();
            var record = new Record(now.ToUnixTimeMilliseconds(), sent.Where(t => now - t < TimeSpan.FromSeconds(65)).Select(t => t.ToUnixTimeMilliseconds()).ToArray());
            await channel.BasicPublishAsync("", Queue, mandatory: false, new BasicProperties { ContentType = "application/json", Persistent = true },
                JsonSerializer.SerializeToUtf8Bytes(record), ct);
            _lastRecorded = sent[^1];
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.LedgerUnreadable(logger, ex.Message);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await RecordAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _broker.DisposeAsync();
    }

    private Task<IChannel> ChannelAsync(CancellationToken ct) => _broker.GetAsync(ct);

    private sealed record Record(long At, long[] Sent);
}
