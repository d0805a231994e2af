using FlashdutySync.Messaging;
using Microsoft.Extensions.Time.Testing;

namespace Consumer.Tests.Messaging;

public class AckOrderTests
{
    private static List<object> Messages(int n) => Enumerable.Range(0, n).Select(_ => new object()).ToList();

    [Fact]
    public async Task A_batch_finished_early_returns_only_once_every_earlier_batch_is_acknowledged()
    {
        var order = new AckOrder(new FakeTimeProvider());
        var first = Messages(3);
        var second = Messages(2);
        var a = order.Enter(first, 1);
        var b = order.Enter(second, 4);

        var bReturned = order.LeaveAsync(b, CancellationToken.None);
        Assert.False(bReturned.IsCompleted);

        await order.LeaveAsync(a, CancellationToken.None); // the first batch returns at once
        Assert.False(bReturned.IsCompleted);                 // ...but is not acknowledged yet
        order.Settled(first[0]);
        order.Settled(first[1]);
        Assert.False(bReturned.IsCompleted);
        order.Settled(first[2]);
        await bReturned.WaitAsync(TimeSpan.FromSeconds(10));

        foreach (var m in second) order.Settled(m);
        Assert.Equal(0, order.Open);
    }

    [Fact]
    public async Task A_batch_delivered_later_but_started_first_still_waits_for_the_earlier_one()
    {
        var order = new AckOrder(new FakeTimeProvider());
        var late = Messages(1);
        var b = order.Enter(Messages(1), 200);
        var a = order.Enter(late, 100); // a straggler batch: smaller tags, registered second

        var bReturned = order.LeaveAsync(b, CancellationToken.None);
        await order.LeaveAsync(a, CancellationToken.None);
        Assert.False(bReturned.IsCompleted);
        order.Settled(late[0]);
        await bReturned.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_wait_is_bounded_and_batches_whose_acknowledgements_never_came_are_forgotten()
    {
        var time = new FakeTimeProvider();
        var order = new AckOrder(time);
        var lost = order.Enter(Messages(2), 1);
        await order.LeaveAsync(lost, CancellationToken.None); // returned; its acknowledgements never reported

        var c = order.Enter(Messages(1), 10);
        var cReturned = order.LeaveAsync(c, CancellationToken.None);
        Assert.False(cReturned.IsCompleted);
        time.Advance(AckOrder.MaxWait);
        await cReturned.WaitAsync(TimeSpan.FromSeconds(10));

        // The lost batch no longer holds later ones.
        Assert.Equal(1, order.Open);
        var d = order.Enter(Messages(1), 20);
        var dReturned = order.LeaveAsync(d, CancellationToken.None);
        Assert.False(dReturned.IsCompleted); // c's message is still unacknowledged
    }

    [Fact]
    public async Task Cancellation_lets_a_batch_return_at_once()
    {
        var order = new AckOrder(new FakeTimeProvider());
        order.Enter(Messages(1), 1);
        var b = order.Enter(Messages(1), 2);
        using var cts = new CancellationTokenSource();
        var returned = order.LeaveAsync(b, cts.Token);
        Assert.False(returned.IsCompleted);
        await cts.CancelAsync();
        await returned.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
