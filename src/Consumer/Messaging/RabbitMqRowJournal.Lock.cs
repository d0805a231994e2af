using FlashdutySync.Sync;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace FlashdutySync.Messaging;

/// <summary>
/// The journal's holder: the one exclusive consumer of <c>&lt;queue&gt;_lock</c>, on a connection of its own. The lock
/// queue also carries requests for the journal from a replica with events in hand to the holder.
/// </summary>
/// <remarks>
/// With quorum queues the lock is an exclusive queue instead (<c>&lt;queue&gt;_holder</c>, declared by the holder's
/// connection, refused to any other with 405): RabbitMQ 3.10 does not enforce an exclusive consumer on a quorum
/// queue (QuorumQueueFeatureTests), and a classic durable lock queue would be unavailable while its node is down. An
/// exclusive queue lives on the holder's own node and goes with its connection: the node's loss ends the term, and
/// the next holder declares it again on a node that is up.
/// </remarks>
internal sealed partial class RabbitMqRowJournal
{
    /// <summary>Connections the lock has opened: one per term, however long it waits for the lock (for tests).</summary>
    internal int LockConnectionsOpened => _lockConnections;

    public async Task<CancellationToken> AcquireAsync(CancellationToken ct)
    {
        var waiting = false;
        IConnection? connection = null;
        while (true)
        {
            // A connection of its own, never recovered by the client: after a broker restart a recovered channel would
            // hold the lock again unseen (its consumer re-registered), while this replica already counts it lost. While
            // another holds the lock, each attempt is a channel on the same connection (the refusal closes only the
            // channel): no connection a second in the broker's log.
            if (connection is not { IsOpen: true })
            {
                if (connection is not null) await CloseQuietlyAsync(connection);
                connection = await BrokerNodes.ConnectAsync(rabbit.Value, new ConnectionFactory
                {
                    ClientProvidedName = "flashduty-mapping-sync journal lock", AutomaticRecoveryEnabled = false,
                    TopologyRecoveryEnabled = false, RequestedHeartbeat = LockHeartbeat,
                }, ct);
                Interlocked.Increment(ref _lockConnections);
            }

            IChannel? channel = null;
            try
            {
                channel = await connection.CreateChannelAsync(cancellationToken: ct);
                var exclusiveQueue = rabbit.Value.QueueType == QueueType.Quorum;
                await channel.QueueDeclareAsync(rabbit.Value.LockQueue, durable: !exclusiveQueue, exclusive: exclusiveQueue, autoDelete: false, cancellationToken: ct);
                var lease = new CancellationTokenSource();
                Task Lost(object? sender, ShutdownEventArgs args)
                {
                    lease.Cancel();
                    return Task.CompletedTask;
                }

                connection.ConnectionShutdownAsync += Lost;
                channel.ChannelShutdownAsync += Lost;
                // Requests for the journal arrive on the lock queue, to its holder alone.
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += (_, request) =>
                {
                    // Stale requests expire in the queue (no clock of another machine is compared here).
                    if (request.BasicProperties.AppId != _instance) HandoverRequested?.Invoke();
                    return Task.CompletedTask;
                };
                await channel.BasicConsumeAsync(rabbit.Value.LockQueue, autoAck: true, consumerTag: "", noLocal: false, exclusive: true, arguments: null,
                    consumer: consumer, cancellationToken: ct);
                // Lost before it was set up (the connection closed meanwhile): the token is already cancelled, as it must be.
                if (!connection.IsOpen || !channel.IsOpen) lease.Cancel();
                // A previous term's connection not released (a late release found this term already in its place): closed.
                var previous = Interlocked.Exchange(ref _lock, connection);
                _lease = lease;
                if (previous is not null && !ReferenceEquals(previous, connection)) _ = CloseQuietlyAsync(previous);
                Log.JournalAcquired(logger, Queue);
                return lease.Token;
            }
            // 403: the lock queue has an exclusive consumer; 405: the exclusive lock queue belongs to another connection.
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode is 403 or 405)
            {
                // Another replica holds it (it is quiescing, or it lost the event queue and has not noticed yet).
                if (channel is not null) await channel.DisposeAsync();
                if (!waiting) Log.JournalBusy(logger, rabbit.Value.LockQueue);
                waiting = true;
                try
                {
                    if (HandoverWanted && DateTimeOffset.UtcNow - _lastRequest >= HandoverRequestEvery) await RequestHandoverAsync(ct);
                    await Task.Delay(LockRetry, ct);
                }
                catch
                {
                    await CloseQuietlyAsync(connection);
                    throw;
                }
            }
            catch
            {
                await CloseQuietlyAsync(connection);
                throw;
            }
        }
    }

    /// <summary>Asks whoever holds the journal to let go: a message on the lock queue, which only the holder consumes.</summary>
    private async Task RequestHandoverAsync(CancellationToken ct)
    {
        _lastRequest = DateTimeOffset.UtcNow;
        var properties = new BasicProperties
        {
            AppId = _instance, Expiration = "10000",
        };
        await (await _broker.GetAsync(ct)).BasicPublishAsync("", rabbit.Value.LockQueue, mandatory: false, properties, "handover"u8.ToArray(), ct);
    }

    public async Task ReleaseAsync(CancellationToken lease, bool clean, CancellationToken ct)
    {
        var (connection, source) = (_lock, _lease);
        // The term it was asked for only: a demotion releases late, and this process may hold the journal again by then.
        if (source is null || source.Token != lease) return;
        try
        {
            // A compaction of this holder finishes first: the next one must find every record in the queue.
            await _compacting.WaitAsync(ct);
            try
            {
                if (ReferenceEquals(_lease, source) && clean && !source.IsCancellationRequested)
                    await PublishAsync(await _broker.GetAsync(ct), JournalRecordFormat.Marker("released", _term, _replica), ct);
            }
            finally
            {
                // Nothing of the term outlives it: the next one starts from the journal (a newer term's image stays).
                if (ReferenceEquals(_lease, source)) (_image, _ownId) = (new JournalImage(), "");
                _compacting.Release();
            }
        }
        finally
        {
            // The term's own lock only, given up before the close (which can take seconds): a term taken meanwhile by
            // this replica keeps its lock, and its own release finds it.
            if (connection is not null && ReferenceEquals(Interlocked.CompareExchange(ref _lock, null, connection), connection))
            {
                source.Cancel();
                await CloseQuietlyAsync(connection);
            }
        }
    }

    /// <summary>Closes the connection (and with it the lock) within a few seconds, or aborts it: never hangs on a broker that is gone.</summary>
    private static async Task CloseQuietlyAsync(IConnection connection)
    {
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await connection.CloseAsync(Constants.ReplySuccess, "released", TimeSpan.FromSeconds(2), abort: true, limit.Token);
            await connection.DisposeAsync();
        }
        catch (Exception ex) when (ex is AlreadyClosedException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Already gone with the broker.
        }
    }
}
