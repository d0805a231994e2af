using FlashdutySync.Messaging;
using FlashdutySync.Sync;
using FlashdutySync.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Integration;

/// <summary>What a restarted service remembers of the rows it wrote: when each label was set, and what it deleted.</summary>
[Collection(BrokerCollection.Name)]
public sealed class RestartTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AfterARestart_AStaleEventRedeliveredLate_DoesNotOverwriteTheNewerValue_NorBringBackADeletedRow()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var first = await h.StartServiceAsync();
        await h.ProvisionAsync("web-1", "alice", "sre", "checkout", T0);
        await h.OwnerChangedAsync("web-1", "bob", T0.AddMinutes(10));
        await h.ProvisionAsync("web-2", "carol", "sre", "checkout", T0);
        await h.DecommissionAsync("web-2", T0.AddMinutes(10));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).TryGetValue("web-1", out var r) && r["owner"] == "bob" &&
                                          !h.Rows(SyncHarness.HostSchema).ContainsKey("web-2"), TimeSpan.FromSeconds(30), () => "bob's row and web-2 deleted: " + Dump(h));
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        await h.StopServiceAsync(first);

        // A new process: it knows the rows only from Flashduty and the saved stamps.
        await h.StartServiceAsync();
        var upserts = h.Simulator.State.Stats.Requests("data/upsert", schemaId: SyncHarness.HostSchema);
        await h.OwnerChangedAsync("web-1", "stale-owner", T0.AddMinutes(5));          // older than bob
        await h.ProvisionAsync("web-2", "zombie", "sre", "checkout", T0.AddMinutes(5)); // older than the decommission
        await h.OwnerChangedAsync("web-1", "dave", T0.AddMinutes(20));                 // newer: applies
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema)["web-1"]["owner"] == "dave", TimeSpan.FromSeconds(30), () => "dave's change");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));

        var rows = h.Rows(SyncHarness.HostSchema);
        Assert.Equal("dave", rows["web-1"]["owner"]);
        Assert.False(rows.ContainsKey("web-2"), "a provision older than the decommission brought the row back");
        // The stale events cost the host schema no request. (The zombie provision is still the newest word on its
        // service's owner: the service schema, keyed by service, takes it.)
        Assert.Equal(upserts + 1, h.Simulator.State.Stats.Requests("data/upsert", schemaId: SyncHarness.HostSchema));
        Assert.Equal("zombie", h.Rows(SyncHarness.ServiceSchema)["checkout"]["owner"]);
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task AStandbyTakingOver_ReloadsRowsAndStamps_SoAStaleEventDoesNotOverwriteWhatTheActiveOneWrote()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var active = await h.StartServiceAsync();
        await h.ProvisionAsync("web-1", "alice", "sre", "checkout", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-1"), TimeSpan.FromSeconds(30), "web-1");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));

        await h.StartServiceAsync(); // the standby: reads alice, as of T0
        await h.OwnerChangedAsync("web-1", "bob", T0.AddMinutes(10));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema)["web-1"]["owner"] == "bob", TimeSpan.FromSeconds(30), "bob");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        await h.StopServiceAsync(active);

        await h.OwnerChangedAsync("web-1", "stale-owner", T0.AddMinutes(5)); // newer than what the standby read at start
        await h.ProvisionAsync("web-9", "carol", "sre", "checkout", T0.AddMinutes(20));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("web-9"), TimeSpan.FromSeconds(30), "the standby to take over");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("bob", h.Rows(SyncHarness.HostSchema)["web-1"]["owner"]);
    }

    [Fact]
    public async Task TheRowJournal_MergesNewestFirst_CompactsItsRecords_SaysHowItWasReleased_AndOneReplicaHoldsItAtATime()
    {
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-journal-{Guid.NewGuid():N}"[..24] });
        await using var journal = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        await using var other = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        try
        {
            var lease = await journal.AcquireAsync(CancellationToken.None);
            var first = await journal.LoadAsync(CancellationToken.None);
            Assert.Empty(first.Schemas);
            Assert.True(first.CleanlyReleased); // nobody held it before: nothing to wait out
            JournalEntry Row(string schema, string key, string owner, int minutes, int? deleted = null, string? eventId = null) =>
                new(schema, key, new Dictionary<string, (string?, DateTimeOffset)> { ["owner"] = (owner, T0.AddMinutes(minutes).AddTicks(7)) },
                    deleted is { } d ? T0.AddMinutes(d) : null,
                    eventId is null ? [] : [new EventCopy("inventory.owner-changed", eventId, "application/json", "{}"u8.ToArray(), new Dictionary<string, string>(), null, T0, eventId)],
                    ReplacesEvents: false);
            for (var i = 0; i < 10; i++) await journal.AppendAsync([Row("s1", "web-1", $"o{i}", i, eventId: $"e{i}"), Row("s1", $"web-{i + 10}", "x", 1)], CancellationToken.None);
            await journal.AppendAsync([Row("s1", "web-1", "older", 3, deleted: 4)], CancellationToken.None); // older label time, newer delete
            await journal.AppendAsync([Row("s2", "svc", "y", 2)], CancellationToken.None);
            // A write landed: the row needs no copies but the one still unwritten.
            await journal.AppendAsync([Row("s1", "web-1", "o9", 9, eventId: "e9") with { ReplacesEvents = true }], CancellationToken.None);

            // The second replica cannot hold it while the first does.
            using var notYet = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var waiting = other.AcquireAsync(notYet.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
            Assert.False(lease.IsCancellationRequested);
            // It tried about once a second, each time on a channel of the one connection it opened.
            Assert.Equal(1, other.LockConnectionsOpened);

            await journal.ReleaseAsync(lease, clean: true, CancellationToken.None);
            var otherLease = await other.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var loaded = await other.LoadAsync(CancellationToken.None);
            Assert.True(loaded.CleanlyReleased);
            Assert.Equal(1, loaded.Term);
            var web1 = loaded.Schemas["s1"]["web-1"];
            Assert.Equal(("o9", T0.AddMinutes(9).AddTicks(7)), web1.Labels["owner"]); // exact to the tick
            Assert.Equal(T0.AddMinutes(4), web1.DeletedAt);
            Assert.Equal(["e9"], web1.Events.Select(e => e.MessageId));
            Assert.Equal(11, loaded.Schemas["s1"].Count);
            Assert.Single(loaded.Schemas["s2"]);
            // Compacted: one record for the rows, one for the term, plus the term this load began.
            Assert.Equal(3u, await broker.CountAsync(options.Value.JournalQueue));

            // Its holder killed (lock channel gone without a clean release): the next one must wait out a write in flight.
            await other.DisposeAsync();
            await using var third = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
            await third.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var afterKill = await third.LoadAsync(CancellationToken.None);
            Assert.False(afterKill.CleanlyReleased);
            Assert.Equal(2, afterKill.Term);
            Assert.Equal("o9", afterKill.Schemas["s1"]["web-1"].Labels["owner"].Value);
        }
        finally
        {
            await broker.DeleteQueuesAsync(options.Value.JournalQueue, options.Value.LockQueue);
        }
    }

    [Fact]
    public async Task TheRowJournal_ReadsRecordsOfTheEarlierFormat_AndSetsAsideWhatItCannotRead_InsteadOfDroppingIt()
    {
        var options = Options.Create(new RabbitMqOptions { Uri = broker.Uri, QueueName = $"test-journal-{Guid.NewGuid():N}"[..24] });
        var unreadable = options.Value.JournalUnreadableQueue;
        await using var journal = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
        try
        {
            await using (var setup = await broker.Connection.CreateChannelAsync())
            {
                await setup.QueueDeclareAsync(options.Value.JournalQueue, durable: true, exclusive: false, autoDelete: false);
                // As the version before the one-letter copies wrote it.
                var legacy = """{"t":"rows","rows":[{"s":"s1","k":"web-1","l":{"owner":{"v":"alice","a":638660000000000000}},"e":[{"EventType":"inventory.owner-changed","MessageId":"m1","ContentType":"application/json","Body":"e30=","Headers":{},"InputAddress":null,"OccurredAt":"2026-11-01T12:00:00+00:00","Description":"d1"}],"r":false}]}"""u8.ToArray();
                await setup.BasicPublishAsync("", options.Value.JournalQueue, mandatory: false, new BasicProperties(), legacy);
                await setup.BasicPublishAsync("", options.Value.JournalQueue, mandatory: false, new BasicProperties(), "not json at all"u8.ToArray());
                await setup.BasicPublishAsync("", options.Value.JournalQueue, mandatory: false, new BasicProperties(), """{"t":"from-a-newer-version"}"""u8.ToArray());
            }

            var lease = await journal.AcquireAsync(CancellationToken.None);
            var loaded = await journal.LoadAsync(CancellationToken.None);
            var row = loaded.Schemas["s1"]["web-1"];
            Assert.Equal("alice", row.Labels["owner"].Value);
            Assert.Equal("m1", Assert.Single(row.Events).MessageId);
            Assert.Equal("{}"u8.ToArray(), row.Events[0].Body);

            await using var channel = await broker.Connection.CreateChannelAsync();
            var bodies = new List<string>();
            while (await channel.BasicGetAsync(unreadable, autoAck: true) is { } got) bodies.Add(System.Text.Encoding.UTF8.GetString(got.Body.Span));
            Assert.Equal(["not json at all", """{"t":"from-a-newer-version"}"""], bodies);

            // Compacted into the current format, which the next load reads the same.
            await journal.ReleaseAsync(lease, clean: true, CancellationToken.None);
            await using var next = new RabbitMqRowJournal(options, NullLogger<RabbitMqRowJournal>.Instance);
            await next.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var again = (await next.LoadAsync(CancellationToken.None)).Schemas["s1"]["web-1"];
            Assert.Equal(("alice", row.Labels["owner"].At), again.Labels["owner"]);
            Assert.Equal(["m1"], again.Events.Select(e => e.MessageId));
            Assert.Equal(0u, await broker.CountAsync(unreadable));
        }
        finally
        {
            await broker.DeleteQueuesAsync(options.Value.JournalQueue, options.Value.LockQueue, unreadable);
        }
    }

    private static string Dump(SyncHarness h) =>
        string.Join("; ", h.Rows(SyncHarness.HostSchema).Select(r => r.Key + "=" + string.Join(",", r.Value.Values))) +
        $" (upserts {h.Simulator.State.Stats.Requests("data/upsert")}, deletes {h.Simulator.State.Stats.Requests("data/delete")})";
}
