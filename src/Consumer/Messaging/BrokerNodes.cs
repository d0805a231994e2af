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
    /// <summary>The nodes as <c>host:port</c> pairs, or the problem with the setting (never the URI's credentials).</summary>
    public static IReadOnlyList<(string Host, int Port)> Parse(RabbitMqOptions options, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(options);
        problem = null;
        var defaultPort = options.Uri.IsDefaultPort || options.Uri.Port <= 0 ? (IsTls(options.Uri) ? 5671 : 5672) : options.Uri.Port;
        if (string.IsNullOrWhiteSpace(options.Nodes)) return [(options.Uri.Host, defaultPort)];
        var nodes = new List<(string, int)>();
        var entries = options.Nodes.Split(',', StringSplitOptions.TrimEntries);
        foreach (var raw in entries)
        {
            // Never the entry itself in a message: written as a URI, it may carry a password.
            var which = $"RabbitMq:Nodes: entry {nodes.Count + 1} of {entries.Length}";
            if (raw.Contains("://", StringComparison.Ordinal) || raw.Contains('@', StringComparison.Ordinal))
            {
                problem = $"{which} is a URI; give host:port only (e.g. rabbit1:5672,rabbit2:5672): the user, password and virtual host come from RabbitMq:Uri";
                return [];
            }

            var colon = raw.LastIndexOf(':');
            var host = colon < 0 ? raw : raw[..colon];
            var port = defaultPort;
            if (raw.Length == 0 || host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown ||
                (colon >= 0 && (!int.TryParse(raw[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)))
            {
                problem = $"{which} is not host:port with a port of 1-65535 (expected e.g. rabbit1:5672,rabbit2:5672; the user, password and virtual host come from RabbitMq:Uri)";
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
        if (factory.RequestedHeartbeat == ConnectionFactory.DefaultHeartbeat) factory.RequestedHeartbeat = options.Heartbeat;
        return factory.CreateConnectionAsync(Endpoints(options), ct);
    }

    private static bool IsTls(Uri uri) => string.Equals(uri.Scheme, "amqps", StringComparison.OrdinalIgnoreCase);
}
