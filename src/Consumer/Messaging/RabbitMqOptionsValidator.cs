using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

/// <summary>Rules DataAnnotations cannot state: the node list parses, the URI is AMQP. Messages never carry the URI (it holds the password).</summary>
public sealed class RabbitMqOptionsValidator : IValidateOptions<RabbitMqOptions>
{
    public ValidateOptionsResult Validate(string? name, RabbitMqOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Uri is { IsAbsoluteUri: true } uri && uri.Scheme is not ("amqp" or "amqps"))
            failures.Add($"RabbitMq:Uri must start with amqp:// or amqps:// (got a '{uri.Scheme}' URI)");
        else
        {
            BrokerNodes.Parse(options, out var problem);
            if (problem is not null) failures.Add(problem);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
