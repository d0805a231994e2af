using FlashdutySync.Sync;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

/// <summary>
/// The service's <c>migrate-queues --to classic|quorum</c> verb: with the service's own configuration (RabbitMq:*,
/// Sync:RetryInterval), moves its queues and their messages to the given type. Refuses while a replica consumes.
/// </summary>
public static class MigrateQueuesCommand
{
    public const string Verb = "migrate-queues";

    /// <summary>Exit code 0 when done, 1 when refused or failed, 2 on a bad command line or configuration.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, Action<IConfigurationBuilder>? configure = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        var i = Array.IndexOf(args, "--to");
        var to = i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        if (!Enum.TryParse<QueueType>(to, ignoreCase: true, out var type) || int.TryParse(to, out _))
        {
            await output.WriteLineAsync($"usage: Consumer {Verb} --to classic|quorum [--RabbitMq:QueueName=…] (the service's configuration names the broker and the queues)");
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder([.. args.Where((_, k) => k != i && k != i + 1)]);
        configure?.Invoke(builder.Configuration);
        builder.Services.AddOptions<RabbitMqOptions>().Configure(o => RabbitMqOptions.BindFrom(builder.Configuration.GetSection(RabbitMqOptions.SectionName), o))
            .ValidateDataAnnotations();
        builder.Services.AddSingleton<IValidateOptions<RabbitMqOptions>, RabbitMqOptionsValidator>();
        builder.Services.AddOptions<SyncOptions>().Bind(builder.Configuration.GetSection(SyncOptions.SectionName));
        await using var app = builder.Build();
        RabbitMqOptions rabbit;
        SyncOptions sync;
        try
        {
            rabbit = app.Services.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
            sync = app.Services.GetRequiredService<IOptions<SyncOptions>>().Value;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            await output.WriteLineAsync($"migrate-queues: invalid configuration: {ex.Message}");
            return 2;
        }

        rabbit.QueueType = type;
        try
        {
            return await new QueueMigration(rabbit, sync, output).RunAsync(ct);
        }
        catch (InvalidOperationException ex)
        {
            await output.WriteLineAsync($"migrate-queues: {ex.Message}");
            return 1;
        }
    }
}
