using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

/// <summary>Rules DataAnnotations cannot state: the node list parses, the URI is one AMQP URI. Messages never carry the URI (it holds the password).</summary>
public sealed class RabbitMqOptionsValidator : IValidateOptions<RabbitMqOptions>
{
    public ValidateOptionsResult Validate(string? name, RabbitMqOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.UriUnreadable)
            failures.Add("RabbitMq:Uri is not a URI (value not shown: it holds the password). Is a character of the user or password not percent-encoded (# / ? @ : % and space as %23 %2F %3F %40 %3A %25 %20)? For a cluster, give one node's URI in RabbitMq:Uri and the nodes as host:port in RabbitMq:Nodes");
        else if (options.Uri is { IsAbsoluteUri: true } uri && uri.Scheme is not ("amqp" or "amqps"))
            failures.Add($"RabbitMq:Uri must start with amqp:// or amqps:// (got a '{uri.Scheme}' URI)");
        else if (options.Uri is { IsAbsoluteUri: true } one && one.Segments.Length > 2)
            // Several URIs run together (as `scripts/cluster.sh uri` prints them), or a path of more than the virtual host.
            failures.Add("RabbitMq:Uri must be one broker's URI whose path is at most the virtual host (e.g. amqp://user:password@rabbit1:5672/vhost); for a cluster, list its nodes in RabbitMq:Nodes as host:port,host:port");
        else
        {
            BrokerNodes.Parse(options, out var problem);
            if (problem is not null) failures.Add(problem);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
