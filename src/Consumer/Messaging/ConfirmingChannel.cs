using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// A channel with publisher confirms on a connection of its own, opened on first use and opened again after the
/// broker comes back (a restart closes both), on whichever of the cluster's nodes answers. <paramref name="onOpen"/> runs on each new channel (declarations).
/// Used by the service's own publishers (rerouting, the rate-budget ledger, the row journal), beside MassTransit's.
/// </summary>
internal sealed class ConfirmingChannel(RabbitMqOptions broker, string clientName, Func<IChannel, CancellationToken, Task>? onOpen = null) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _channel;

    public async Task<IChannel> GetAsync(CancellationToken ct)
    {
        if (_channel is { IsOpen: true } open) return open;
        await _gate.WaitAsync(ct);
        try
        {
            if (_channel is { IsOpen: true } again) return again;
            if (_connection is not { IsOpen: true })
            {
                if (_connection is not null) await DisposeQuietlyAsync(_connection);
                _connection = await BrokerNodes.ConnectAsync(broker, new ConnectionFactory { ClientProvidedName = clientName }, ct);
            }

            var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            if (onOpen is not null) await onOpen(channel, ct);
            return _channel = channel;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Another channel on the same connection (opened by <see cref="GetAsync"/> if need be), for the caller to dispose.</summary>
    public async Task<IChannel> OpenExtraAsync(CancellationToken ct)
    {
        await GetAsync(ct);
        return await _connection!.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null) await DisposeQuietlyAsync(_channel);
        if (_connection is not null) await DisposeQuietlyAsync(_connection);
    }

    private static async Task DisposeQuietlyAsync(IAsyncDisposable disposable)
    {
        try
        {
            await disposable.DisposeAsync();
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException or ObjectDisposedException)
        {
            // Already gone with the broker.
        }
    }
}
