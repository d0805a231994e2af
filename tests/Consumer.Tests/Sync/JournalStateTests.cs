using FlashdutySync.Sync;

namespace FlashdutySync.Tests.Sync;

/// <summary>Merging journal records: newest label time wins, a later record on equal times, copies added or replaced, old tombstones forgotten.</summary>
public sealed class JournalStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static EventCopy Copy(string id) =>
        new("inventory.owner-changed", id, "application/json", System.Text.Encoding.UTF8.GetBytes(id), new Dictionary<string, string>(), null, T0, id);

    private static JournalEntry Entry(string key, string? owner, DateTimeOffset at, DateTimeOffset? deleted = null, bool replaces = false, params string[] copies) =>
        new("s", key, new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = (owner, at) }, deleted, [.. copies.Select(Copy)], replaces);

    [Fact]
    public void NewestLabelTimeWins_WhateverTheRecordOrder_AndALaterRecordWinsOnEqualTimes()
    {
        var state = new JournalState();
        state.Merge(Entry("a", "new", T0.AddMinutes(2)));
        state.Merge(Entry("a", "old", T0.AddMinutes(1)));
        Assert.Equal("new", state.Schemas["s"]["a"].Labels["owner"].Value);
        state.Merge(Entry("a", "reverted", T0.AddMinutes(2))); // a refusal reverts the value, keeping the time
        Assert.Equal("reverted", state.Schemas["s"]["a"].Labels["owner"].Value);
    }

    [Fact]
    public void EventCopies_AreAddedOncePerEvent_AndAWrittenRowsRecordReplacesThem()
    {
        var state = new JournalState();
        state.Merge(Entry("a", "x", T0, copies: ["e1", "e2"]));
        state.Merge(Entry("a", "x", T0, copies: ["e2", "e3"])); // e2 redelivered and journaled again
        Assert.Equal(["e1", "e2", "e3"], state.Schemas["s"]["a"].Events.Select(e => e.MessageId));
        state.Merge(Entry("a", "x", T0, replaces: true, copies: ["e3"])); // written: only e3 still waits
        Assert.Equal(["e3"], state.Schemas["s"]["a"].Events.Select(e => e.MessageId));
    }

    [Fact]
    public void Tombstones_PastTheRetention_AreForgotten_LiveRowsAndRecentTombstonesKept()
    {
        var state = new JournalState();
        state.Merge(Entry("old-delete", null, T0, deleted: T0));
        state.Merge(Entry("recent-delete", null, T0.AddDays(2), deleted: T0.AddDays(2)));
        state.Merge(Entry("live", "x", T0));
        state.Merge(Entry("deleted-but-waiting", null, T0, deleted: T0, copies: ["e9"]));

        Assert.Equal(1, state.ForgetTombstones(T0.AddDays(1)));
        Assert.Equal(["deleted-but-waiting", "live", "recent-delete"], state.Schemas["s"].Keys.Order());
    }
}
