using System.Globalization;
using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// The broker's addresses: <see cref="RabbitMqOptions.Nodes"/> when set (a cluster), else the host of
/// <see cref="RabbitMqOptions.Uri"/>. Every connection the service opens itself goes through <see cref="ConnectAsync"/>,
/// so that each tries the nodes in turn (the client shuffles them) and a reconnection can land on another node.
/// </summary>
public static class BrokerNodes
{
    /// <summary>
    /// The heartbeat of MassTransit's connection and of the service's own (the journal lock keeps its own, which sets
    /// how soon a cut-off holder stops writing). A connection whose node went is given up within about three of these.
    /// </summary>
    /// <remarks>
    /// Not the client's 60 s: with RabbitMQ.Client 7.2.2, a node that goes kills the connection's socket write loop,
    /// and frames queued after it (MassTransit acknowledging the batches in hand, hundreds at once) fill the client's
    /// 128-frame outgoing buffer; the broker's connection.close is then answered through that full buffer, so the
    /// client's main loop blocks and the connection never learns that it is closed (rabbitmq-dotnet-client#1930, fixed
    /// after 7.2.2). MassTransit's acknowledgements wait for ever and its consumer, waiting for them, never reconnects:
    /// in the cluster test it consumed nothing more until the missed-heartbeat timer closed the connection, three
    /// heartbeats later (dump of the test process: 810 deliveries awaiting <c>BasicAck</c>, the main loop in
    /// <c>HandleConnectionCloseAsync</c>). Also the journal's and the rerouter's publishes would time out meanwhile.
    /// </remarks>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(5);

    /// <summary>The nodes as <c>host:port</c> pairs, or the problem with the setting (never the URI's credentials).</summary>
    public static IReadOnlyList<(string Host, int Port)> Parse(RabbitMqOptions options, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(options);
        problem = null;
        var defaultPort = options.Uri.IsDefaultPort || options.Uri.Port <= 0 ? (IsTls(options.Uri) ? 5671 : 5672) : options.Uri.Port;
        if (string.IsNullOrWhiteSpace(options.Nodes)) return [(options.Uri.Host, defaultPort)];
        var nodes = new List<(string, int)>();
        foreach (var raw in options.Nodes.Split(',', StringSplitOptions.TrimEntries))
        {
            var colon = raw.LastIndexOf(':');
            var host = colon < 0 ? raw : raw[..colon];
            var port = defaultPort;
            if (raw.Length == 0 || host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown ||
                (colon >= 0 && (!int.TryParse(raw[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)))
            {
                problem = $"RabbitMq:Nodes: '{raw}' is not host:port (expected e.g. rabbit1:5672,rabbit2:5672; the user, password and virtual host come from RabbitMq:Uri)";
                return [];
            }

            nodes.Add((host, port));
        }

        return nodes;
    }

    /// <summary>The nodes as the client's endpoints, with TLS when the URI is <c>amqps</c>.</summary>
    public static IReadOnlyList<AmqpTcpEndpoint> Endpoints(RabbitMqOptions options) =>
        [.. Parse(options, out _).Select(n => IsTls(options.Uri) ? new AmqpTcpEndpoint(n.Host, n.Port, new SslOption(n.Host, enabled: true)) : new AmqpTcpEndpoint(n.Host, n.Port))];

    /// <summary>A connection to whichever node answers first.</summary>
    public static Task<IConnection> ConnectAsync(RabbitMqOptions options, ConnectionFactory factory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(factory);
        factory.Uri = options.Uri;
        if (factory.RequestedHeartbeat == ConnectionFactory.DefaultHeartbeat) factory.RequestedHeartbeat = Heartbeat;
        return factory.CreateConnectionAsync(Endpoints(options), ct);
    }

    private static bool IsTls(Uri uri) => string.Equals(uri.Scheme, "amqps", StringComparison.OrdinalIgnoreCase);
}
