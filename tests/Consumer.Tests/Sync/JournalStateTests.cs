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
    public void AForget_DropsOnlyWhatItSaw_ARowSetAgainSinceOrWithCopiesWaitingIsKept()
    {
        var deleted = T0.AddMinutes(5);
        JournalEntry Forget(string key) => new("s", key, new Dictionary<string, (string?, DateTimeOffset)>(), deleted, [], ReplacesEvents: false, Forget: true);
        var state = new JournalState();
        foreach (var key in new[] { "gone", "set-again", "copies", "same-time" }) state.Merge(Entry(key, null, deleted, deleted));
        state.Merge(Entry("set-again", "new", deleted.AddMinutes(1))); // another holder's provision, after the decommission
        state.Merge(Entry("copies", null, deleted, deleted, copies: "e1"));
        state.Merge(Entry("same-time", "tie", deleted)); // set at the decommission's very time, arriving after it

        foreach (var key in new[] { "gone", "set-again", "copies", "same-time" }) state.Merge(Forget(key));

        Assert.Equal(["copies", "same-time", "set-again"], state.Schemas["s"].Keys.Order());
        Assert.Equal("new", state.Schemas["s"]["set-again"].Labels["owner"].Value);
    }

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
