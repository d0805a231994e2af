using System.Text.Json;
using System.Text.Json.Serialization;
using FlashdutySync.Sync;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// Row stamps kept in RabbitMQ, the one store the service already depends on: a durable queue
/// (<c>&lt;queue&gt;_stamps</c>) of records, one per confirmed write, each naming the rows' label times.
/// </summary>
/// <remarks>
/// Records are appended with publisher confirms. Compaction reads every record present (holding them
/// unacknowledged), publishes their merge as a few large records, and only then acknowledges (deletes) what it read:
/// a crash in between leaves both copies, and merging is idempotent (newest wins). It runs at start and again in the
/// background once enough records have been appended since the last one. Replicas may compact at once: each deletes
/// only what it read and republished.
/// </remarks>
public sealed class RabbitMqStampStore(IOptions<RabbitMqOptions> rabbit, ILogger<RabbitMqStampStore> logger) : IStampStore, IAsyncDisposable
{
    private const int RowsPerRecord = 2000;
    private const int CompactAfter = 500;
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private readonly SemaphoreSlim _compacting = new(1, 1);
    private readonly ConfirmingChannel _broker = new(rabbit.Value.Uri, "flashduty-mapping-sync stamps", (channel, ct) =>
        channel.QueueDeclareAsync(rabbit.Value.StampsQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct));
    private int _appended;

    public string Queue => rabbit.Value.StampsQueue;

    public async Task<IReadOnlyDictionary<string, Dictionary<string, RowStamps>>> LoadAsync(CancellationToken ct) => await CompactAsync(ct);

    public async Task SaveAsync(string schemaId, IReadOnlyList<(string Key, RowStamps Stamps)> rows, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) return;
        var channel = await ChannelAsync(ct);
        await PublishAsync(channel, new Record(schemaId, rows.ToDictionary(r => r.Key, r => Stamp.From(r.Stamps))), ct);
        if (Interlocked.Increment(ref _appended) % CompactAfter == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await CompactAsync(CancellationToken.None);
                }
                catch (Exception ex)
                {
                    Log.StampsNotSaved(logger, "(compaction)", 0, ex.Message);
                }
            }, CancellationToken.None);
        }
    }

    /// <summary>Reads and merges every record, republishes the merge, then deletes what it read.</summary>
    public async Task<IReadOnlyDictionary<string, Dictionary<string, RowStamps>>> CompactAsync(CancellationToken ct)
    {
        await _compacting.WaitAsync(ct);
        try
        {
            await using var channel = await _broker.OpenExtraAsync(ct); // the queue is declared by then
            var present = (await channel.QueueDeclarePassiveAsync(Queue, ct)).MessageCount;
            var merged = new Dictionary<string, Dictionary<string, RowStamps>>(StringComparer.Ordinal);
            ulong lastTag = 0;
            var read = 0;
            for (var i = 0; i < present; i++)
            {
                if (await channel.BasicGetAsync(Queue, autoAck: false, ct) is not { } got) break;
                lastTag = got.DeliveryTag;
                read++;
                if (Deserialize(got.Body.Span) is not { } record) continue; // unreadable: dropped by this compaction
                var rows = merged.TryGetValue(record.Schema, out var r) ? r : merged[record.Schema] = new Dictionary<string, RowStamps>(StringComparer.Ordinal);
                foreach (var (key, stamp) in record.Rows)
                {
                    var stamps = stamp.ToRowStamps();
                    rows[key] = rows.TryGetValue(key, out var had) ? had.Merge(stamps) : stamps;
                }
            }

            var written = 0;
            if (read > 1)
            {
                foreach (var (schema, rows) in merged)
                {
                    foreach (var chunk in rows.Chunk(RowsPerRecord))
                    {
                        await PublishAsync(channel, new Record(schema, chunk.ToDictionary(r => r.Key, r => Stamp.From(r.Value))), ct);
                        written++;
                    }
                }

                await channel.BasicAckAsync(lastTag, multiple: true, ct);
            }
            else if (read == 1)
            {
                await channel.BasicNackAsync(lastTag, multiple: false, requeue: true, ct);
                written = 1;
            }

            Log.StampsLoaded(logger, merged.Sum(s => s.Value.Count), read, Queue, written);
            return merged;
        }
        finally
        {
            _compacting.Release();
        }
    }

    private static Record? Deserialize(ReadOnlySpan<byte> body)
    {
        try
        {
            return JsonSerializer.Deserialize<Record>(body, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task PublishAsync(IChannel channel, Record record, CancellationToken ct) =>
        await channel.BasicPublishAsync("", Queue, mandatory: false, new BasicProperties { ContentType = "application/json", Persistent = true },
            JsonSerializer.SerializeToUtf8Bytes(record, Json), ct);

    private Task<IChannel> ChannelAsync(CancellationToken ct) => _broker.GetAsync(ct);

    public ValueTask DisposeAsync() => _broker.DisposeAsync();

    /// <summary>One schema's stamps for some rows. Times are UTC ticks (exact: events compare to the tick).</summary>
    private sealed record Record([property: JsonPropertyName("schema")] string Schema, [property: JsonPropertyName("rows")] Dictionary<string, Stamp> Rows);

    private sealed record Stamp([property: JsonPropertyName("labels")] Dictionary<string, long> Labels, [property: JsonPropertyName("deleted")] long? Deleted)
    {
        public static Stamp From(RowStamps s) => new(s.Labels.ToDictionary(l => l.Key, l => l.Value.UtcTicks, StringComparer.Ordinal), s.DeletedAt?.UtcTicks);

        public RowStamps ToRowStamps() =>
            new(Labels.ToDictionary(l => l.Key, l => new DateTimeOffset(l.Value, TimeSpan.Zero), StringComparer.Ordinal),
                Deleted is { } d ? new DateTimeOffset(d, TimeSpan.Zero) : null);
    }
}
