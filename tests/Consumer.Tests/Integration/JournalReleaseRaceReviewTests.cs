using System.Reflection;
using FlashdutySync.Messaging;
using FlashdutySync.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// Second review of #13: a late release (a demotion) still closing the old term's lock connection while the same
/// replica takes the journal again. ReleaseAsync checks <c>_lock</c> is the old connection, awaits its close (up to 3 s),
/// then sets <c>_lock = null</c> unconditionally, wiping the new term's connection: the new term's own release then
/// neither cancels its lease nor closes its lock, and no replica can take the journal until the process exits.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class JournalReleaseRaceReviewTests(RabbitMqFixture broker)
{
    [Fact]
    public async Task ALateReleaseClosingItsConnection_WhileTheReplicaTakesTheJournalAgain_LeavesTheNewTermsLockReleasable()
    {
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-race-{Guid.NewGuid():N}"[..24] });
        await using var journal = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        try
        {
            var first = await journal.AcquireAsync(CancellationToken.None);
            await journal.LoadAsync(CancellationToken.None);

            // The old lock connection's close frees the lock at once but returns only when the gate opens (as a close-ok
            // and dispose that lag behind the broker dropping the consumer, or a close that waits out its 3 s limit).
            var field = typeof(RabbitMqRowJournal).GetField("_lock", BindingFlags.NonPublic | BindingFlags.Instance)!;
            var real = (IConnection)field.GetValue(journal)!;
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var slow = DispatchProxy.Create<IConnection, SlowClose>();
            ((SlowClose)(object)slow).Set(real, gate.Task);
            field.SetValue(journal, slow);

            var late = journal.ReleaseAsync(first, clean: false, CancellationToken.None);
            await Eventually.UntilAsync(() => !real.IsOpen, TimeSpan.FromSeconds(10), "the old lock connection to close");
            var second = await journal.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            gate.SetResult();
            await late.WaitAsync(TimeSpan.FromSeconds(10));

            await journal.LoadAsync(CancellationToken.None);
            await journal.ReleaseAsync(second, clean: true, CancellationToken.None);

            Assert.True(second.IsCancellationRequested, "the second term's release did not end its lease");
            await using var next = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
            var taken = next.AcquireAsync(CancellationToken.None);
            Assert.Same(taken, await Task.WhenAny(taken, Task.Delay(TimeSpan.FromSeconds(10))));
        }
        finally
        {
            await broker.DeleteQueuesAsync(options.Value.JournalQueue, options.Value.LockQueue, options.Value.JournalUnreadableQueue);
        }
    }

    /// <summary>An IConnection whose CloseAsync closes the real one, then waits for a gate.</summary>
    public class SlowClose : DispatchProxy
    {
        private IConnection _inner = null!;
        private Task _gate = Task.CompletedTask;

        public void Set(IConnection inner, Task gate) => (_inner, _gate) = (inner, gate);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.Name == nameof(IConnection.CloseAsync)) return CloseThenWaitAsync(targetMethod, args);
            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
        }

        private async Task CloseThenWaitAsync(MethodInfo close, object?[]? args)
        {
            await (Task)close.Invoke(_inner, args)!;
            await _gate;
        }
    }
}
