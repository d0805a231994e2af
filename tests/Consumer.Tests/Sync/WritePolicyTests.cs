using FlashdutySync.Sync;

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
        var wait = WritePolicy.Wait(pending, TimeSpan.FromSeconds(ageSeconds), idle, MaxDelay);
        Assert.Equal(expectedSeconds < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(expectedSeconds), wait);
    }
}
