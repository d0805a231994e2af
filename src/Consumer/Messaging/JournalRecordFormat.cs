using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using FlashdutySync.Sync;

namespace FlashdutySync.Messaging;

/// <summary>
/// How the row journal's records look in RabbitMQ: JSON with one-letter names (a record is written for every batch,
/// so its size is the journal's cost to the broker). Rows go in records of at most <see cref="MaxRecordBytes"/>:
/// RabbitMQ 4.x refuses messages over 16 MiB by default.
/// </summary>
internal static class JournalRecordFormat
{
    public const int MaxRecordBytes = 4 << 20;
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private static readonly byte[] RowsHead = """{"t":"rows","rows":["""u8.ToArray();
    private static readonly byte[] RowsTail = "]}"u8.ToArray();

    /// <summary>The entries as records of at most <see cref="MaxRecordBytes"/> each (a single larger row gets one of its own).</summary>
    public static IEnumerable<byte[]> RowRecords(IEnumerable<JournalEntry> entries, int maxBytes = MaxRecordBytes)
    {
        var writer = new RowWriter();
        return Records(entries.Select(writer.Write), maxBytes);
    }

    /// <summary>Serialised rows (<see cref="RowWriter"/>) as records of at most <paramref name="maxBytes"/> each, each an array of its own.</summary>
    public static IEnumerable<byte[]> Records(IEnumerable<byte[]> rows, int maxBytes = MaxRecordBytes) =>
        Records(rows, new ArrayBufferWriter<byte>(64 * 1024), maxBytes).Select(r => r.ToArray());

    /// <summary>
    /// As <see cref="Records(IEnumerable{byte[]}, int)"/>, written in <paramref name="buffer"/>: each record is valid
    /// until the next is asked for (publish it before moving on).
    /// </summary>
    /// <remarks>
    /// One buffer for the journal's life: growing a MemoryStream to 4 MiB per record was most of a full sync's
    /// large-object churn, and a new buffer per compaction (grown to 4 MiB, then copied out) still put 48-60 MB in the
    /// large-object heap during a drain (allocation profile, #13).
    /// </remarks>
    public static IEnumerable<ReadOnlyMemory<byte>> Records(IEnumerable<byte[]> rows, ArrayBufferWriter<byte> buffer, int maxBytes = MaxRecordBytes)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var count = 0;
        foreach (var row in rows)
        {
            if (count > 0 && buffer.WrittenCount + 1 + row.Length + RowsTail.Length > maxBytes)
            {
                buffer.Write(RowsTail);
                yield return buffer.WrittenMemory;
                count = 0;
            }

            if (count == 0)
            {
                buffer.ResetWrittenCount();
                buffer.Write(RowsHead);
            }
            else
            {
                buffer.Write(","u8);
            }

            buffer.Write(row);
            count++;
        }

        if (count > 0)
        {
            buffer.Write(RowsTail);
            yield return buffer.WrittenMemory;
        }
    }

    public static byte[] Marker(string kind, long term, string by) => JsonSerializer.SerializeToUtf8Bytes(new Record { Kind = kind, Term = term, By = by }, Json);

    /// <summary>One row as <see cref="RowWriter"/> wrote it.</summary>
    public static JournalEntry ReadRow(ReadOnlySpan<byte> row) =>
        (JsonSerializer.Deserialize<RowDto>(row, Json) ?? throw new JsonException("a journal row is null")).ToEntry();

    /// <summary>Null when the bytes are not a record this version reads.</summary>
    public static Record? Read(ReadOnlySpan<byte> body)
    {
        try
        {
            return JsonSerializer.Deserialize<Record>(body, Json) is { Kind: "rows" or "acquired" or "released" or "fence" } record ? record : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal sealed class Record
    {
        [JsonPropertyName("t")] public string Kind { get; set; } = "";
        [JsonPropertyName("term")] public long Term { get; set; }
        [JsonPropertyName("by")] public string? By { get; set; }
        [JsonPropertyName("rows")] public List<RowDto>? Rows { get; set; }
    }

    /// <summary>One row. Times are UTC ticks (exact: events compare to the tick).</summary>
    internal sealed class RowDto
    {
        [JsonPropertyName("s")] public string Schema { get; set; } = "";
        [JsonPropertyName("k")] public string Key { get; set; } = "";
        [JsonPropertyName("l")] public Dictionary<string, LabelDto> Labels { get; set; } = [];
        [JsonPropertyName("d")] public long? Deleted { get; set; }
        [JsonPropertyName("ds")] public long? DeletedSeen { get; set; }
        // Copies as written before the one-letter form (kept readable: a journal outlives the version that wrote it).
        [JsonPropertyName("e")] public List<EventCopy>? LegacyEvents { get; set; }
        [JsonPropertyName("c")] public List<CopyDto>? Events { get; set; }
        [JsonPropertyName("r")] public bool Replaces { get; set; }
        [JsonPropertyName("x")] public bool Forget { get; set; }

        public JournalEntry ToEntry() => new(Schema, Key,
            Labels.ToDictionary(l => l.Key, l => (l.Value.Value, new DateTimeOffset(l.Value.At, TimeSpan.Zero)), StringComparer.Ordinal),
            Deleted is { } d ? new DateTimeOffset(d, TimeSpan.Zero) : null, [.. LegacyEvents ?? [], .. (Events ?? []).Select(c => c.ToCopy())], Replaces, Forget,
            DeletedSeen is { } seen ? new DateTimeOffset(seen, TimeSpan.Zero) : null);
    }

    internal sealed class LabelDto
    {
        [JsonPropertyName("v")] public string? Value { get; set; }
        [JsonPropertyName("a")] public long At { get; set; }
    }

    /// <summary>An event copy; the common content type and empty headers are left out.</summary>
    internal sealed class CopyDto
    {
        internal const string Json = "application/json";

        [JsonPropertyName("t")] public string Type { get; set; } = "";
        [JsonPropertyName("m")] public string? MessageId { get; set; }
        [JsonPropertyName("c")] public string? ContentType { get; set; }
        [JsonPropertyName("b")] public byte[] Body { get; set; } = [];
        [JsonPropertyName("h")] public Dictionary<string, string>? Headers { get; set; }
        [JsonPropertyName("i")] public string? InputAddress { get; set; }
        [JsonPropertyName("o")] public long OccurredAt { get; set; }
        [JsonPropertyName("d")] public string Description { get; set; } = "";

        public EventCopy ToCopy() => new(Type, MessageId, ContentType is null ? Json : ContentType.Length == 0 ? null : ContentType, Body,
            Headers ?? new Dictionary<string, string>(StringComparer.Ordinal), InputAddress, new DateTimeOffset(OccurredAt, TimeSpan.Zero), Description);
    }
}
