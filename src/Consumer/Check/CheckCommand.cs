using FlashdutySync.Flashduty;
using FlashdutySync.Messaging;
using FlashdutySync.Sync;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Check;

/// <summary>
/// The service's <c>check</c> verb: with the service's own configuration and Flashduty client (the same limiter,
/// retries and key handling), read-only, it confirms the key is accepted and every configured schema exists, prints
/// each schema's labels, rows against its cap, download format and sample keys, and which event fields fill each
/// label. It never starts the bus or the mapping engine and never prints the key.
/// </summary>
public static class CheckCommand
{
    public const string Verb = "check";

    /// <summary>
    /// Runs the check and returns the exit code: 0 when nothing is wrong (warnings allowed), 1 on any problem, 2 when the
    /// configuration does not validate (nothing is sent then).
    /// </summary>
    /// <param name="args">The command line after the verb: configuration overrides such as <c>--Flashduty:SchemaIds:0=…</c>.</param>
    /// <param name="output">Where the report goes (standard output).</param>
    /// <param name="configure">Adds configuration after the service's own sources (tests).</param>
    /// <param name="cancellationToken">Stops the check.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, Action<IConfigurationBuilder>? configure = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        // The service's own builder (ServiceApp.Build): appsettings.json, environment variables, command line.
        var builder = WebApplication.CreateSlimBuilder(args);
        configure?.Invoke(builder.Configuration);
        // The report owns standard output; logs (retries, say) go to standard error.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // Polly logs every attempt at Information; a check wants only the retries.
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        builder.AddFlashdutyClient();
        await using var app = builder.Build();

        var report = new CheckReport(output, builder.Configuration[$"{FlashdutyOptions.SectionName}:{nameof(FlashdutyOptions.AppKey)}"] ?? "");
        FlashdutyOptions flashduty;
        SyncOptions sync;
        try
        {
            flashduty = app.Services.GetRequiredService<IOptions<FlashdutyOptions>>().Value;
            sync = app.Services.GetRequiredService<IOptions<SyncOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            return report.InvalidConfiguration(ex.Failures);
        }
        catch (InvalidOperationException ex)
        {
            // A value the binder cannot convert (a number that is not one): its message names the key.
            return report.InvalidConfiguration([ex.Message]);
        }

        // Only the queue names, for the messages; the broker is not contacted.
        var queues = new RabbitMqOptions { QueueName = builder.Configuration[$"{RabbitMqOptions.SectionName}:{nameof(RabbitMqOptions.QueueName)}"] ?? new RabbitMqOptions().QueueName };
        var run = new CheckRun(app.Services.GetRequiredService<FlashdutyClient>(), app.Services.GetRequiredService<AccountRateLimiter>(), flashduty, sync, queues, report);
        return await run.RunAsync(cancellationToken);
    }
}
