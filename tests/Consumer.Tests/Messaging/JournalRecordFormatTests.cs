using System.Text;
using System.Text.Json;
using FlashdutySync.Messaging;
using FlashdutySync.Sync;

namespace FlashdutySync.Tests.Messaging;

/// <summary>The row journal's records: what goes in comes out, records stay under the size limit, and an event costs few bytes.</summary>
public sealed class JournalRecordFormatTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    // As the benchmark and most publishers send it: a plain JSON body (about 110 bytes), no headers.
    private static EventCopy Typical(int i) => new("inventory.owner-changed", null, "application/json",
        Encoding.UTF8.GetBytes($$"""{"host":"web-{{i:00000}}","owner":"owner-{{i % 97}}","occurredAt":"2026-11-01T12:00:00.123Z","eventId":"e-{{i:0000000}}"}"""),
        new Dictionary<string, string>(), "rabbitmq://localhost/flashduty-mapping-sync", T0, $"OwnerChanged of host 'web-{i:00000}' (eventId e-{i:0000000})");

    private static JournalEntry Row(int i, params EventCopy[] copies) =>
        new("schema-1", $"web-{i:00000}", new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = ($"owner-{i % 97}", T0.AddTicks(i)), ["team"] = (null, T0) },
            i % 3 == 0 ? T0.AddMinutes(i) : null, copies, ReplacesEvents: i % 2 == 0);

    [Fact]
    public void WhatIsWritten_IsReadBackExactly()
    {
        var odd = new EventCopy("inventory.host-provisioned", "m-1", "text/plain; charset=utf-8", [0, 1, 255], new Dictionary<string, string> { ["x-a"] = "1" },
            null, T0.AddTicks(3), "described");
        var noType = odd with { ContentType = null, MessageId = null };
        var entries = new[] { Row(1, Typical(1), odd), Row(2), Row(3, noType) with { DeletedSeen = T0.AddHours(2) }, Row(6) with { Forget = true } };

        var read = JournalRecordFormat.RowRecords(entries).Select(r => JournalRecordFormat.Read(r)!).SelectMany(r => r.Rows!).Select(r => r.ToEntry()).ToList();

        Assert.Equal(entries.Length, read.Count);
        for (var i = 0; i < entries.Length; i++)
        {
            var (want, got) = (entries[i], read[i]);
            Assert.Equal((want.SchemaId, want.Key, want.DeletedAt, want.ReplacesEvents, want.Forget, want.DeletedSeen),
                (got.SchemaId, got.Key, got.DeletedAt, got.ReplacesEvents, got.Forget, got.DeletedSeen));
            Assert.Equal(want.Labels.OrderBy(l => l.Key), got.Labels.OrderBy(l => l.Key));
            Assert.Equal(want.Events.Count, got.Events.Count);
            for (var j = 0; j < want.Events.Count; j++)
            {
                var (a, b) = (want.Events[j], got.Events[j]);
                Assert.Equal((a.EventType, a.MessageId, a.ContentType, a.InputAddress, a.OccurredAt, a.Description, a.Identity),
                    (b.EventType, b.MessageId, b.ContentType, b.InputAddress, b.OccurredAt, b.Description, b.Identity));
                Assert.Equal(a.Body, b.Body);
                Assert.Equal(a.Headers, b.Headers);
            }
        }
    }

    [Fact]
    public void Rows_AreSplitIntoRecordsUnderTheLimit_NoneLost()
    {
        var entries = Enumerable.Range(0, 5_000).Select(i => Row(i, Typical(i))).ToList();

        var records = JournalRecordFormat.RowRecords(entries, maxBytes: 64 * 1024).ToList();

        Assert.True(records.Count > 10, $"{records.Count} records");
        Assert.All(records, r => Assert.True(r.Length <= 64 * 1024, $"a record of {r.Length} bytes"));
        var keys = records.SelectMany(r => JournalRecordFormat.Read(r)!.Rows!).Select(r => r.Key).ToList();
        Assert.Equal(entries.Select(e => e.Key), keys);
    }

    [Fact]
    public void ARowLargerThanTheLimit_GetsARecordOfItsOwn()
    {
        var big = Row(1, [.. Enumerable.Range(0, 64).Select(Typical)]);
        var records = JournalRecordFormat.RowRecords([Row(0), big, Row(2)], maxBytes: 1024).ToList();
        Assert.Equal([1, 1, 1], records.Select(r => JournalRecordFormat.Read(r)!.Rows!.Count));
        Assert.Equal(64, JournalRecordFormat.Read(records[1])!.Rows![0].ToEntry().Events.Count);
    }

    [Fact]
    public void ATypicalEvent_CostsTheJournalLessThanTwiceItsBody()
    {
        var copies = Enumerable.Range(0, 1_000).Select(Typical).ToList();
        var entries = copies.Select((c, i) => Row(i, c)).ToList();
        var bodies = copies.Sum(c => c.Body.Length);
        var bare = JournalRecordFormat.RowRecords(entries.Select(e => e with { Events = [] })).Sum(r => r.Length);
        var withCopies = JournalRecordFormat.RowRecords(entries).Sum(r => r.Length);
        // The form before: the copies under their C# names.
        var legacy = entries.Sum(e => JsonSerializer.SerializeToUtf8Bytes(e.Events).Length + 6);

        var perCopy = (withCopies - bare) / (double)copies.Count;
        var perBody = bodies / (double)copies.Count;
        Assert.True(perCopy < 2 * perBody + 150, $"a copy costs {perCopy:0} bytes for a body of {perBody:0} (the earlier form: {legacy / (double)copies.Count:0})");
        Assert.True(perCopy < 0.75 * legacy / copies.Count, $"a copy costs {perCopy:0} bytes, the earlier form {legacy / (double)copies.Count:0}");
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{\"t\":\"something-newer\"}")]
    [InlineData("{\"t\":\"rows\",\"rows\":[{\"s\":1}]}")]
    public void WhatIsNotARecord_IsNullNotAnException(string body) => Assert.Null(JournalRecordFormat.Read(Encoding.UTF8.GetBytes(body)));
}
