using FlashdutySync.Sync;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>When the inflow counts as drained: what a schema's writer waits for to coalesce a stream.</summary>
public sealed class InflowTrackerTests
{
    [Fact]
    public void ABatchStillWaitingOnTheJournal_KeepsTheInflowFromCountingAsDrained()
    {
        var time = new FakeTimeProvider();
        var inflow = new InflowTracker(10, time: time);
        var delivery = new object();
        inflow.Arrived(delivery);
        inflow.Journaling();
        inflow.Applied(delivery);
        time.Advance(TimeSpan.FromSeconds(1));
        // Applied, nothing arrived for a second: but the batch waits for its journal record (a compaction, a GC),
        // and MassTransit delivers nothing more meanwhile. The pause is the service's own.
        Assert.False(inflow.IsDrained);

        inflow.Journaled();
        Assert.True(inflow.IsDrained);
        Assert.True(inflow.WhenDrainedAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void AnEventStillUnapplied_OrOneJustArrived_IsNotDrained()
    {
        var time = new FakeTimeProvider();
        var inflow = new InflowTracker(10, time: time);
        var delivery = new object();
        inflow.Arrived(delivery);
        Assert.False(inflow.IsDrained); // not applied yet

        inflow.Applied(delivery);
        Assert.False(inflow.IsDrained); // applied, but it arrived just now: more may follow within the quiet period
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(inflow.IsDrained);
    }
}
