using FlashdutySync.Messaging;
using FlashdutySync.Sync;
using FlashdutySync.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Integration;

/// <summary>The row journal's background compaction, on the broker: from what the holder has had confirmed, losing nothing another wrote.</summary>
[Collection(BrokerCollection.Name)]
public sealed class JournalCompactionTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static JournalEntry Row(string key, string owner, int minute, params string[] copies) =>
        new("s1", key, new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = (owner, T0.AddMinutes(minute)) }, null,
            [.. copies.Select(id => new EventCopy("inventory.owner-changed", id, "application/json", "{}"u8.ToArray(), new Dictionary<string, string>(), null, T0, id))],
            ReplacesEvents: false);

    /// <summary>A forgotten row (its decommission past the retention) is dropped by the next load and its compaction, not republished for ever.</summary>
    [Fact]
    public async Task AForgottenRow_IsNotInTheNextLoad_NorInWhatItsCompactionRepublishes()
    {
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-forget-{Guid.NewGuid():N}"[..24] });
        var queue = options.Value.JournalQueue;
        try
        {
            await using (var first = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance))
            {
                var lease = await first.AcquireAsync(CancellationToken.None);
                await first.LoadAsync(CancellationToken.None);
                // "gone": a host's row as its decommission at T0 + 1 min left it (labels cleared at that time)
                var decommissioned = new JournalEntry("s1", "gone", new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = (null, T0.AddMinutes(1)) },
                    T0.AddMinutes(1), [], ReplacesEvents: true);
                await first.AppendAsync([Row("gone", "alice", 0), decommissioned, Row("kept", "bob", 1)], CancellationToken.None);
                await first.AppendAsync([new JournalEntry("s1", "gone", new Dictionary<string, (string?, DateTimeOffset)>(), T0.AddMinutes(1), [], ReplacesEvents: false, Forget: true)],
                    CancellationToken.None);
                await first.ReleaseAsync(lease, clean: true, CancellationToken.None);
            }

            for (var term = 0; term < 2; term++)
            {
                await using var next = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
                var lease = await next.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
                var loaded = await next.LoadAsync(CancellationToken.None);
                Assert.Equal(["kept"], loaded.Schemas["s1"].Keys);
                await next.ReleaseAsync(lease, clean: true, CancellationToken.None);
            }

            // What is left: one record of rows (the kept one) and the markers of the last load and release
            Assert.Equal(4u, await broker.CountAsync(queue));
        }
        finally
        {
            await broker.DeleteQueuesAsync(queue, options.Value.LockQueue, options.Value.JournalUnreadableQueue);
        }
    }

    [Fact]
    public async Task InTheBackground_TheHoldersOwnRecordsAreMergedFromMemory_AndALateRecordOfAnotherHolderIsKept()
    {
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-compact-{Guid.NewGuid():N}"[..24] });
        var queue = options.Value.JournalQueue;
        var logs = new CapturingLoggerProvider();
        await using var journal = new RabbitMqRowJournal(options, new LoggerFactory([logs]).CreateLogger<RabbitMqRowJournal>());
        try
        {
            var lease = await journal.AcquireAsync(CancellationToken.None);
            await journal.LoadAsync(CancellationToken.None);
            // A previous holder that has not noticed it lost the journal: its record lands after the load.
            await using (var stray = await broker.Connection.CreateChannelAsync())
            {
                foreach (var record in JournalRecordFormat.RowRecords([Row("late", "zoe", 50, "e-late")]))
                    await stray.BasicPublishAsync("", queue, mandatory: false, new BasicProperties { AppId = "a-previous-holder/7", Persistent = true }, record);
            }

            // 256 appends over 16 rows, each row's last one carrying a copy: the 256th starts a background compaction.
            for (var i = 0; i < 256; i++)
                await journal.AppendAsync([Row($"web-{i % 16}", $"o{i}", i, i >= 240 ? [$"e{i}"] : [])], CancellationToken.None);
            // Compacted: the merge (one record) and the term's mark.
            await Eventually.UntilAsync(async () => await broker.CountAsync(queue) == 2, TimeSpan.FromSeconds(30), () => "a background compaction: " + string.Join(" | ", logs.Lines));

            await journal.ReleaseAsync(lease, clean: true, CancellationToken.None);
            await using var next = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
            await next.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var loaded = await next.LoadAsync(CancellationToken.None);
            var rows = loaded.Schemas["s1"];
            Assert.Equal(17, rows.Count);
            for (var r = 0; r < 16; r++)
            {
                var last = 240 + r;
                Assert.Equal(($"o{last}", T0.AddMinutes(last)), rows[$"web-{r}"].Labels["owner"]);
                Assert.Equal([$"e{last}"], rows[$"web-{r}"].Events.Select(c => c.MessageId));
            }

            Assert.Equal("zoe", rows["late"].Labels["owner"].Value);
            Assert.Equal(["e-late"], rows["late"].Events.Select(c => c.MessageId));
            Assert.True(loaded.CleanlyReleased);
        }
        finally
        {
            await broker.DeleteQueuesAsync(queue, options.Value.LockQueue, options.Value.JournalUnreadableQueue);
        }
    }

    [Fact]
    public async Task AReleaseOfAnEndedTerm_ComingLate_LeavesTheNewerTermOfTheSameReplicaHoldingTheJournal_WithItsRows()
    {
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-release-{Guid.NewGuid():N}"[..24] });
        await using var journal = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        try
        {
            var first = await journal.AcquireAsync(CancellationToken.None);
            await journal.LoadAsync(CancellationToken.None);
            await journal.ReleaseAsync(first, clean: true, CancellationToken.None);
            var second = await journal.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            await journal.LoadAsync(CancellationToken.None);
            await journal.AppendAsync([Row("kept", "amy", 1, "e1")], CancellationToken.None);

            // The first term's demotion, late: it must end nothing of the second.
            await journal.ReleaseAsync(first, clean: false, CancellationToken.None);
            Assert.False(second.IsCancellationRequested);
            // 255 more appends (256 in the term) compact in the background, from the second term's image; the last
            // one is the one that starts it (one after it could land before or after the merge: the count would vary).
            for (var i = 0; i < 255; i++) await journal.AppendAsync([Row($"web-{i % 4}", $"o{i}", i)], CancellationToken.None);
            await Eventually.UntilAsync(async () => await broker.CountAsync(options.Value.JournalQueue) == 2, TimeSpan.FromSeconds(30), () => "no background compaction");
            await journal.ReleaseAsync(second, clean: true, CancellationToken.None);

            await using var next = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
            await next.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var loaded = await next.LoadAsync(CancellationToken.None);
            Assert.Equal("amy", loaded.Schemas["s1"]["kept"].Labels["owner"].Value);
            Assert.Equal(["e1"], loaded.Schemas["s1"]["kept"].Events.Select(c => c.MessageId));
            Assert.True(loaded.CleanlyReleased);
        }
        finally
        {
            await broker.DeleteQueuesAsync(options.Value.JournalQueue, options.Value.LockQueue, options.Value.JournalUnreadableQueue);
        }
    }

    [Fact]
    public async Task ALoadCutOffFromTheLock_HoldingEveryRecord_DoesNotKeepThemFromTheNextHoldersLoad()
    {
        // Given a journal with rows, and a replica whose load has read every record (held unacknowledged)
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-cutoff-{Guid.NewGuid():N}"[..24] });
        await using var first = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        await using var next = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        try
        {
            var lease = await first.AcquireAsync(CancellationToken.None);
            await first.LoadAsync(CancellationToken.None);
            for (var i = 0; i < 10; i++) await first.AppendAsync([Row($"web-{i}", $"o{i}", i, $"e{i}")], CancellationToken.None);
            await first.ReleaseAsync(lease, clean: false, CancellationToken.None);
            await first.AcquireAsync(CancellationToken.None);
            var read = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var goOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            first.ReadForTests = async () =>
            {
                read.TrySetResult();
                await goOn.Task;
            };
            var cutOff = first.LoadAsync(CancellationToken.None);
            await read.Task.WaitAsync(TimeSpan.FromSeconds(20));

            // When its lock goes (the broker dropped the connection) before it noticed, and another replica takes the
            // journal and loads it
            await first.DropLockForTestsAsync();
            await next.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            var loaded = await next.LoadAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(40));

            // Then the next holder loads every row: the records went back to the queue with the lock
            Assert.Equal(10, loaded.Schemas["s1"].Count);
            Assert.Equal(["e3"], loaded.Schemas["s1"]["web-3"].Events.Select(c => c.MessageId));
            goOn.SetResult();
            await Assert.ThrowsAnyAsync<Exception>(() => cutOff.WaitAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            await broker.DeleteQueuesAsync(options.Value.JournalQueue, options.Value.LockQueue, options.Value.JournalUnreadableQueue);
        }
    }
}
