using FlashdutySync.Sync;

namespace FlashdutySync.Tests.Sync;

/// <summary>Merging journal records: newest label time wins, a later record on equal times, copies added or replaced.</summary>
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
}
