using RabbitMQ.Client;
using Testcontainers.RabbitMq;

namespace FlashdutySync.Tests.Support;

/// <summary>
/// The broker for integration tests: the one named by <c>RABBITMQ_URI</c> when set (CI, local runs), otherwise a
/// pinned RabbitMQ container started through Testcontainers (laptops with Docker).
/// </summary>
public sealed class RabbitMqFixture : IAsyncLifetime
{
    private RabbitMqContainer? _container;
    private IConnection? _connection;

    public Uri Uri { get; private set; } = null!;

    public IConnection Connection => _connection!;

    public async Task InitializeAsync()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RABBITMQ_URI");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            Uri = new Uri(fromEnvironment);
        }
        else
        {
            _container = new RabbitMqBuilder("rabbitmq:3.13.7-management").Build();
            await _container.StartAsync();
            Uri = new Uri(_container.GetConnectionString());
        }

        _connection = await new ConnectionFactory { Uri = Uri, ClientProvidedName = "tests" }.CreateConnectionAsync();
    }

    public async Task DisposeAsync()
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
