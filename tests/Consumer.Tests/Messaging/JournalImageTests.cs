using FlashdutySync.Messaging;
using FlashdutySync.Sync;

namespace FlashdutySync.Tests.Messaging;

/// <summary>
/// What a background compaction republishes (the holder's image of the journal): read back and merged, it is the
/// state the records appended would give, while keeping only what the state needs.
/// </summary>
public sealed class JournalImageTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static EventCopy Copy(string id) =>
        new("inventory.owner-changed", id, "application/json", "{}"u8.ToArray(), new Dictionary<string, string>(), null, T0, id);

    private static JournalEntry Row(string key, string owner, int minute, bool replaces = false, params string[] copies) =>
        new("s1", key, new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = (owner, T0.AddMinutes(minute)), ["team"] = ("sre", T0) }, null,
            [.. copies.Select(Copy)], replaces);

    private static (JournalState State, int Records) Republished(JournalImage image)
    {
        var state = new JournalState();
        var records = image.Records().ToList();
        foreach (var record in JournalRecordFormat.Records(records))
        {
            foreach (var row in JournalRecordFormat.Read(record)!.Rows!) state.Merge(row.ToEntry());
        }

        return (state, records.Count);
    }

    [Fact]
    public void AForgetOfTheHolder_DropsARowWithNothingNewerNoCopyAndNoOtherHoldersRecord_AnotherHoldersForgetIsLeftOut()
    {
        var image = new JournalImage();
        var writer = new RowWriter();
        void Add(JournalEntry e, bool own = true) => image.Add(e, writer.Write(e), own, writer);
        static JournalEntry Forget(string key) => new("s1", key, new Dictionary<string, (string?, DateTimeOffset)>(), T0.AddMinutes(5), [], ReplacesEvents: false, Forget: true);

        Add(Row("web-1", "alice", 1, replaces: true));
        Add(Row("web-2", "bob", 1));
        Add(Row("web-3", "carol", 1));
        Add(Row("web-3", "carol", 1, copies: "e3"), own: false); // another holder's record of the row
        Add(Row("web-4", "dave", 9)); // newer than the decommission forgotten
        var bytes = image.Bytes;
        foreach (var key in new[] { "web-1", "web-3", "web-4" }) Add(Forget(key));
        Add(Forget("web-2"), own: false);

        var (state, records) = Republished(image);
        Assert.Equal(["web-2", "web-3", "web-4"], state.Schemas["s1"].Keys.Order());
        Assert.Equal(3, image.Rows);
        Assert.Equal(4, records);
        Assert.True(image.Bytes < bytes, $"{image.Bytes} bytes kept of {bytes}");
        // As a record, the forget reads back as one
        Assert.True(JournalRecordFormat.ReadRow(writer.Write(Forget("web-1"))).Forget);
    }

    [Fact]
    public void AWholeRowOfTheHolder_SupersedesItsEarlierRecords_CopiesAddUpUntilAWriteReplacesThem()
    {
        var image = new JournalImage();
        var writer = new RowWriter();
        void Add(JournalEntry e, bool own = true) => image.Add(e, writer.Write(e), own, writer);

        Add(Row("web-1", "alice", 1));
        Add(Row("web-1", "bob", 2)); // supersedes: no copies either way
        Add(Row("web-2", "carol", 1, copies: "e1"));
        Add(Row("web-2", "dave", 2, copies: "e2")); // kept both: each adds a copy
        var (state, records) = Republished(image);
        Assert.Equal(3, records);
        Assert.Equal("bob", state.Schemas["s1"]["web-1"].Labels["owner"].Value);
        Assert.Equal("dave", state.Schemas["s1"]["web-2"].Labels["owner"].Value);
        Assert.Equal(["e1", "e2"], state.Schemas["s1"]["web-2"].Events.Select(c => c.MessageId));

        Add(Row("web-2", "dave", 2, replaces: true, copies: "e2")); // a write landed: e2 still waits, e1 no more
        (state, records) = Republished(image);
        Assert.Equal(2, records);
        Assert.Equal(["e2"], state.Schemas["s1"]["web-2"].Events.Select(c => c.MessageId));
        Assert.Equal(2, image.Rows);
        Assert.Equal(image.Records().Sum(r => (long)r.Length), image.Bytes);
    }

    [Fact]
    public void ARecordThatIsNotWhole_OrAnotherHoldersRecord_SupersedesNothing()
    {
        var image = new JournalImage();
        var writer = new RowWriter();
        void Add(JournalEntry e, bool own = true) => image.Add(e, writer.Write(e), own, writer);

        Add(Row("web-1", "bob", 5));
        Add(Row("web-1", "older", 3)); // older than what the row had: not whole, so both stay and the newer wins
        Add(Row("web-2", "carol", 9), own: false); // another holder's
        Add(Row("web-2", "erin", 1, replaces: true));
        var (state, records) = Republished(image);
        Assert.Equal(4, records);
        Assert.Equal("bob", state.Schemas["s1"]["web-1"].Labels["owner"].Value);
        Assert.Equal("carol", state.Schemas["s1"]["web-2"].Labels["owner"].Value);
    }

    [Fact]
    public void ItsMerge_NeverClearsCopiesOfARecordAheadOfIt_NorDoesAnotherHoldersWriteClearThisHoldersCopies()
    {
        var image = new JournalImage();
        var writer = new RowWriter();
        void Add(JournalEntry e, bool own = true) => image.Add(e, writer.Write(e), own, writer);

        Add(Row("web-1", "bob", 5, replaces: true)); // a write landed: the row's first record in the image
        Add(Row("web-2", "carol", 1, copies: "e1"));
        Add(Row("web-2", "carol", 2, replaces: true), own: false); // another holder's write, read after this holder's copy
        image.Collapse(writer);

        // A record of another holder left ahead of the merge in the queue (landed after the fence), then the merge.
        var state = new JournalState();
        state.Merge(Row("web-1", "bob", 5, copies: "e-ahead"));
        foreach (var record in JournalRecordFormat.Records(image.Records()))
        {
            foreach (var row in JournalRecordFormat.Read(record)!.Rows!) state.Merge(row.ToEntry());
        }

        Assert.Equal(["e-ahead"], state.Schemas["s1"]["web-1"].Events.Select(c => c.MessageId));
        Assert.Equal(["e1"], state.Schemas["s1"]["web-2"].Events.Select(c => c.MessageId));
    }

    [Fact]
    public void ARowKeptAsSeveralRecords_IsFoldedIntoOne_SoTheImageStaysTheSizeOfTheRows()
    {
        var image = new JournalImage();
        var writer = new RowWriter();
        image.Add(Row("web-1", "zoe", 0), writer.Write(Row("web-1", "zoe", 0)), own: false, writer);
        for (var i = 1; i <= 1000; i++)
        {
            var entry = Row("web-1", $"o{i}", i, copies: $"e{i % 10}");
            image.Add(entry, writer.Write(entry), own: true, writer);
        }

        image.Collapse(writer);
        var (state, records) = Republished(image);
        Assert.Equal(1, records);
        Assert.Equal("o1000", state.Schemas["s1"]["web-1"].Labels["owner"].Value);
        Assert.Equal(10, state.Schemas["s1"]["web-1"].Events.Count);
        Assert.Equal(image.Records().Sum(r => (long)r.Length), image.Bytes);
    }
}
