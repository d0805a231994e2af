using FlashdutySync.Tests.Support;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace FlashdutySync.Tests.Messaging;

/// <summary>
/// What the service relies on, tried on quorum queues of the real broker (3.10 here): each test is one feature the
/// service uses on its queues, so that a broker version that changes one shows here first.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class QuorumQueueFeatureTests(RabbitMqFixture broker) : IAsyncLifetime
{
    private static readonly Dictionary<string, object?> Quorum = new() { ["x-queue-type"] = "quorum" };
    private readonly string _prefix = "qq-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<string> _queues = [];
    private IConnection _connection = null!;

    public async Task InitializeAsync() =>
        _connection = await new ConnectionFactory { Uri = broker.Uri, ClientProvidedName = "quorum feature tests" }.CreateConnectionAsync();

    public async Task DisposeAsync()
    {
        await using (var channel = await _connection.CreateChannelAsync())
        {
            foreach (var q in _queues) await channel.QueueDeleteAsync(q);
        }

        await _connection.DisposeAsync();
    }

    private async Task<string> DeclareAsync(IChannel channel, string suffix, Dictionary<string, object?>? extra = null)
    {
        var name = $"{_prefix}-{suffix}";
        var arguments = new Dictionary<string, object?>(Quorum);
        foreach (var (k, v) in extra ?? []) arguments[k] = v;
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, arguments);
        _queues.Add(name);
        return name;
    }

    /// <summary>3.10 accepts a second exclusive consumer on a quorum queue: the journal's lock cannot be one (see the next test).</summary>
    [Fact]
    public async Task ExclusiveConsumer_OnAQuorumQueue_IsNotEnforced()
    {
        await using var setup = await _connection.CreateChannelAsync();
        var queue = await DeclareAsync(setup, "lock");
        await using var first = await _connection.CreateChannelAsync();
        await first.BasicConsumeAsync(queue, autoAck: true, "", noLocal: false, exclusive: true, arguments: null, new AsyncEventingBasicConsumer(first));
        await using var second = await _connection.CreateChannelAsync();
        await second.BasicConsumeAsync(queue, autoAck: true, "", noLocal: false, exclusive: true, arguments: null, new AsyncEventingBasicConsumer(second));
        Assert.Equal(2u, await setup.ConsumerCountAsync(queue));
    }

    /// <summary>What the lock is with quorum queues: an exclusive queue, refused to another connection, that others can still publish to.</summary>
    [Fact]
    public async Task ExclusiveQueue_RefusedToAnotherConnection_AcceptsItsPublishes_AndGoesWithItsConnection()
    {
        var name = $"{_prefix}-holder";
        var holder = await new ConnectionFactory { Uri = broker.Uri }.CreateConnectionAsync();
        await using (var channel = await holder.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(name, durable: false, exclusive: true, autoDelete: false);
        }

        await using var other = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await other.BasicPublishAsync("", name, mandatory: true, new BasicProperties(), "handover"u8.ToArray());
        await using (var contender = await _connection.CreateChannelAsync())
        {
            var refused = await Assert.ThrowsAsync<OperationInterruptedException>(() => contender.QueueDeclareAsync(name, durable: false, exclusive: true, autoDelete: false));
            Assert.Equal((ushort)405, refused.ShutdownReason?.ReplyCode);
        }

        await holder.CloseAsync();
        await holder.DisposeAsync();
        await using var successor = await _connection.CreateChannelAsync();
        await successor.QueueDeclareAsync(name, durable: false, exclusive: true, autoDelete: false);
    }

    [Fact]
    public async Task SingleActiveConsumer_OnAQuorumQueue_DeliversToOneConsumerOnly()
    {
        await using var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var queue = await DeclareAsync(channel, "sac", new() { ["x-single-active-consumer"] = true });
        var got = new int[2];
        var consumers = new List<IChannel>();
        for (var i = 0; i < 2; i++)
        {
            var c = await _connection.CreateChannelAsync();
            consumers.Add(c);
            var consumer = new AsyncEventingBasicConsumer(c);
            var index = i;
            consumer.ReceivedAsync += (_, _) =>
            {
                Interlocked.Increment(ref got[index]);
                return Task.CompletedTask;
            };
            await c.BasicConsumeAsync(queue, autoAck: true, consumer);
        }

        for (var i = 0; i < 20; i++) await channel.BasicPublishAsync("", queue, mandatory: true, new BasicProperties(), new byte[] { 1 });
        await Eventually.UntilAsync(() => got[0] + got[1] == 20, TimeSpan.FromSeconds(10), "20 deliveries");
        Assert.Equal([20, 0], got);
        await consumers[0].CloseAsync();
        await channel.BasicPublishAsync("", queue, mandatory: true, new BasicProperties(), new byte[] { 1 });
        await Eventually.UntilAsync(() => got[1] == 1, TimeSpan.FromSeconds(10), "the second consumer to take over");
        foreach (var c in consumers) await c.DisposeAsync();
    }

    /// <summary>The wait queue: a per-queue TTL dead-letters each message back to the service's queue (both quorum).</summary>
    [Fact]
    public async Task MessageTtl_OnAQuorumQueue_DeadLettersBackToTheTarget()
    {
        await using var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var target = await DeclareAsync(channel, "target");
        var wait = await DeclareAsync(channel, "wait", new()
        {
            ["x-dead-letter-exchange"] = "", ["x-dead-letter-routing-key"] = target, ["x-message-ttl"] = 300L,
        });
        for (var i = 0; i < 5; i++) await channel.BasicPublishAsync("", wait, mandatory: true, new BasicProperties { Persistent = true }, new byte[] { 1 });
        await Eventually.UntilAsync(async () => await channel.MessageCountAsync(target) == 5, TimeSpan.FromSeconds(15), "5 messages dead-lettered to the target");
        Assert.Equal(0u, await channel.MessageCountAsync(wait));
    }

    /// <summary>The journal's compaction: every record read unacknowledged, the merge published, then one multiple ack of what was read.</summary>
    [Fact]
    public async Task ReadAllUnackedRepublishThenAckMultiple_OnAQuorumQueue_LeavesOnlyTheMerge()
    {
        await using var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var journal = await DeclareAsync(channel, "journal");
        for (var i = 0; i < 10; i++) await channel.BasicPublishAsync("", journal, mandatory: true, new BasicProperties { Persistent = true }, new[] { (byte)i });
        ulong last = 0;
        var read = 0;
        while (await channel.BasicGetAsync(journal, autoAck: false) is { } got)
        {
            last = got.DeliveryTag;
            read++;
        }

        await channel.BasicPublishAsync("", journal, mandatory: true, new BasicProperties { Persistent = true }, "merge"u8.ToArray());
        await channel.BasicAckAsync(last, multiple: true);
        Assert.Equal(10, read);
        var left = await channel.BasicGetAsync(journal, autoAck: true);
        Assert.Equal("merge", System.Text.Encoding.UTF8.GetString(left!.Body.Span));
        Assert.Null(await channel.BasicGetAsync(journal, autoAck: true));
    }

    /// <summary>The budget ledger: one message, the newest (x-max-length 1, drop-head).</summary>
    [Fact]
    public async Task MaxLengthOneDropHead_OnAQuorumQueue_KeepsTheNewest()
    {
        await using var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var budget = await DeclareAsync(channel, "budget", new() { ["x-max-length"] = 1, ["x-overflow"] = "drop-head" });
        for (var i = 0; i < 3; i++) await channel.BasicPublishAsync("", budget, mandatory: true, new BasicProperties { Persistent = true }, new[] { (byte)i });
        var got = await channel.BasicGetAsync(budget, autoAck: true);
        Assert.Equal(2, got!.Body.Span[0]);
        Assert.Null(await channel.BasicGetAsync(budget, autoAck: true));
    }

    /// <summary>A queue declared as a classic one (no type argument) where a quorum one exists: refused, naming the argument.</summary>
    [Fact]
    public async Task DeclaringWithoutTheType_WhereAQuorumQueueExists_IsRefusedNamingTheArgument()
    {
        await using (var setup = await _connection.CreateChannelAsync())
        {
            await DeclareAsync(setup, "typed");
        }

        await using var channel = await _connection.CreateChannelAsync();
        var refused = await Assert.ThrowsAsync<OperationInterruptedException>(() =>
            channel.QueueDeclareAsync($"{_prefix}-typed", durable: true, exclusive: false, autoDelete: false));
        Assert.Equal((ushort)406, refused.ShutdownReason?.ReplyCode);
        Assert.Contains("x-queue-type", refused.ShutdownReason?.ReplyText, StringComparison.Ordinal);
    }

    /// <summary>So the service names the type in both modes: queues declared before the setting existed (no type argument) stay valid.</summary>
    [Fact]
    public async Task DeclaringAsClassic_WhereAnUntypedQueueExists_IsAccepted()
    {
        var name = $"{_prefix}-untyped";
        await using var channel = await _connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false);
        _queues.Add(name);
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?> { ["x-queue-type"] = "classic" });
        Assert.True(channel.IsOpen);
    }
}
