using FlashdutySync.Sync;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>When a schema writes: an idle inflow, a full request, or the oldest change at the most it may wait.</summary>
public sealed class WritePolicyTests
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(0, 0, true, -1)] // nothing pending: nothing to wait for
    [InlineData(1, 0, true, 0)] // light load: the inflow is idle the moment the event is applied
    [InlineData(999, 0, false, 30)] // a stream: coalesce for up to MaxWriteDelay
    [InlineData(999, 25, false, 5)] // ... counted from the oldest pending change
    [InlineData(1000, 0, false, 0)] // a full request: no reason to wait
    [InlineData(5, 30, false, 0)] // waited the most it may
    [InlineData(5, 45, false, 0)]
    public void Wait_IsZeroToWriteNow_TheTimeLeftOtherwise(int pending, int ageSeconds, bool idle, int expectedSeconds)
    {
        var wait = WritePolicy.Wait(pending, TimeSpan.FromSeconds(ageSeconds), idle, MaxDelay, revisitShare: 0);
        Assert.Equal(expectedSeconds < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(expectedSeconds), wait);
    }

    [Theory]
    [InlineData(1000, 0.0, 0)] // a sync of distinct rows: each full request goes at once
    [InlineData(5000, 0.05, 0)]
    [InlineData(1000, 0.10, 20)] // a burst over the same rows: wait for the inflow to go idle, or MaxWriteDelay
    [InlineData(5000, 0.9, 20)]
    [InlineData(999, 0.0, 20)] // not a full request yet
    public void FullRequest_GoesAtOnce_OnlyWhileTheInflowIsNotRevisitingItsRows(int pending, double revisitShare, int expectedSeconds)
    {
        var wait = WritePolicy.Wait(pending, TimeSpan.FromSeconds(10), inflowIdle: false, MaxDelay, revisitShare);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), wait);
        Assert.Equal(TimeSpan.Zero, WritePolicy.Wait(pending, TimeSpan.FromSeconds(10), inflowIdle: true, MaxDelay, revisitShare));
    }

    [Fact]
    public void Revisits_CountChangesToRowsChangedWithinTheWindow_SinceTheLastWrite()
    {
        var time = new FakeTimeProvider();
        var revisits = new Revisits(time, MaxDelay);
        var rows = Enumerable.Range(0, 4).Select(i => new KeyState($"h{i}")).ToArray();
        foreach (var row in rows) revisits.Changed(row);
        Assert.Equal(0, revisits.Share);

        revisits.Changed(rows[0]); // again within the window
        Assert.Equal(1 / 5.0, revisits.Share);

        revisits.Written();
        Assert.Equal(0, revisits.Share);
        time.Advance(MaxDelay);
        revisits.Changed(rows[1]); // changed before, but a window ago: news, not churn
        revisits.Changed(rows[1]);
        Assert.Equal(1 / 2.0, revisits.Share);
    }
}
