using RabbitMQ.Client;
using Testcontainers.RabbitMq;

namespace FlashdutySync.Tests.Support;

/// <summary>
/// The broker for integration tests: the one named by <c>RABBITMQ_URI</c> when set (CI, local runs), otherwise a
/// pinned RabbitMQ container started through Testcontainers (laptops with Docker).
/// </summary>
public class RabbitMqFixture : IAsyncLifetime
{
    private RabbitMqContainer? _container;
    private IConnection? _connection;

    public Uri Uri { get; protected set; } = null!;

    public IConnection Connection => _connection!;

    /// <summary>
    /// The broker's own Prometheus endpoint (the rabbitmq_prometheus plugin): port 15692 of the broker's host, which
    /// scripts/ensure-rabbitmq.sh enables and the official image serves; as a Prometheus target, <c>host:port</c>.
    /// </summary>
    public string MetricsTarget { get; protected set; } = "";

    /// <summary>What the service needs beyond the URI to use this broker (a cluster's nodes, the queue type).</summary>
    public virtual IReadOnlyDictionary<string, string> ServiceSettings => new Dictionary<string, string>();

    /// <summary>The arguments the service's queue is declared with, beside single-active-consumer.</summary>
    public virtual IReadOnlyDictionary<string, object?> QueueArguments => new Dictionary<string, object?>();

    protected void Connected(IConnection connection) => _connection = connection;

    public virtual async Task InitializeAsync()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RABBITMQ_URI");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            Uri = new Uri(fromEnvironment);
            MetricsTarget = $"{(Uri.Host == "localhost" ? "127.0.0.1" : Uri.Host)}:15692";
        }
        else
        {
            _container = new RabbitMqBuilder("rabbitmq:3.13.7-management").WithPortBinding(15692, assignRandomHostPort: true).Build();
            await _container.StartAsync();
            Uri = new Uri(_container.GetConnectionString());
            MetricsTarget = $"{_container.Hostname}:{_container.GetMappedPublicPort(15692)}";
        }

        _connection = await new ConnectionFactory { Uri = Uri, ClientProvidedName = "tests" }.CreateConnectionAsync();
    }

    /// <summary>Messages ready in the queue (a channel of its own: one that a refused declaration closes costs the caller none).</summary>
    public async Task<uint> CountAsync(string queue)
    {
        await using var channel = await Connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    /// <summary>Deletes the queues a test declared, whatever they hold.</summary>
    public async Task DeleteQueuesAsync(params string[] queues)
    {
        await using var channel = await Connection.CreateChannelAsync();
        foreach (var queue in queues) await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
    }

    /// <summary>Whether the queue exists (a channel of its own: the refusal of a missing queue closes it).</summary>
    public async Task<bool> ExistsAsync(string queue)
    {
        await using var channel = await Connection.CreateChannelAsync();
        try
        {
            await channel.QueueDeclarePassiveAsync(queue);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Deliveries of the queue that a consumer holds unacknowledged. AMQP does not tell this, so the broker's own
    /// tool is asked (about a second a call): rabbitmqctl on this machine, or in the container.
    /// </summary>
    public async Task<long> UnacknowledgedAsync(string queue)
    {
        var vhost = Uri.UnescapeDataString(Uri.AbsolutePath.TrimStart('/'));
        var output = await RabbitMqCtlAsync("list_queues", "-p", vhost.Length == 0 ? "/" : vhost, "-q", "--no-table-headers", "name", "messages_unacknowledged");
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == queue) return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        }

        throw new InvalidOperationException($"rabbitmqctl did not list queue {queue}: {output}");
    }

    /// <summary>
    /// Restarts the RabbitMQ application (connections drop, durable queues and persistent messages stay) and waits
    /// until it is up. Channels opened before are gone (see SyncHarness.ReopenChannelAsync).
    /// </summary>
    public async Task RestartBrokerAsync()
    {
        await RabbitMqCtlAsync("stop_app");
        await RabbitMqCtlAsync("start_app");
        await RabbitMqCtlAsync("await_startup");
    }

    protected virtual async Task<string> RabbitMqCtlAsync(params string[] args)
    {
        string[] command = ["rabbitmqctl", .. args];
        if (_container is not null) return (await _container.ExecAsync(command)).Stdout;
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command[0], command[1..])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} exited with {process.ExitCode}: {output}");
        return output;
    }

    public virtual async Task DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
        if (_container is not null) await _container.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class BrokerCollection : ICollectionFixture<RabbitMqFixture>
{
    // Integration tests share one broker and the contract's fixed exchange names, so they run one at a time.
    public const string Name = "broker";
}
