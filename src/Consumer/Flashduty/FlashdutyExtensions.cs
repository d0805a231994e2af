using Microsoft.Extensions.DependencyInjection.Extensions;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace FlashdutySync.Flashduty;

public static class FlashdutyExtensions
{
    /// <summary>
    /// Adds the Flashduty client (see <see cref="AddFlashdutyClient"/>) and the mapping engine, which loads the
    /// schemas before the bus starts.
    /// </summary>
    public static IHostApplicationBuilder AddFlashduty(this IHostApplicationBuilder builder)
    {
        builder.AddFlashdutyClient();
        var services = builder.Services;
        services.AddSingleton<IMappingApi>(sp => sp.GetRequiredService<FlashdutyClient>());
        services.TryAddSingleton<IRowJournal>(new InMemoryRowJournal());
        services.TryAddSingleton<IRefusedEvents>(DiscardRefusedEvents.Instance);
        services.AddSingleton<MappingEngine>();
        services.AddHostedService(sp => sp.GetRequiredService<MappingEngine>());
        return builder;
    }

    /// <summary>
    /// Adds the options of sections <c>Flashduty</c> and <c>Sync</c> (validated at start) and the Flashduty client:
    /// retries with backoff and jitter, honouring <c>Retry-After</c>; every attempt spends a permit of the one
    /// account-wide limiter, and only then gets the app key on its URL. The service and its <c>check</c> verb share it.
    /// </summary>
    public static IHostApplicationBuilder AddFlashdutyClient(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<FlashdutyOptions>()
            .Bind(builder.Configuration.GetSection(FlashdutyOptions.SectionName));
        services.AddSingleton<IValidateOptions<FlashdutyOptions>, FlashdutyOptionsDataValidator>();
        services.AddSingleton<IValidateOptions<FlashdutyOptions>, FlashdutyOptionsValidator>();
        services.AddOptionsWithValidateOnStart<SyncOptions>()
            .Bind(builder.Configuration.GetSection(SyncOptions.SectionName))
            .ValidateDataAnnotations();

        services.TryAddSingleton<SyncMetrics>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var budget = sp.GetRequiredService<IOptions<FlashdutyOptions>>().Value.RateLimit;
            var limiter = new AccountRateLimiter(budget, sp.GetRequiredService<TimeProvider>());
            sp.GetRequiredService<SyncMetrics>().ObserveLimiter(limiter.InUse, budget.PerSecond, budget.PerMinute);
            return limiter;
        });
        services.AddTransient<FlashdutyAttemptHandler>();
        var client = services.AddHttpClient<FlashdutyClient>((sp, http) =>
            {
                var baseUrl = sp.GetRequiredService<IOptions<FlashdutyOptions>>().Value.BaseUrl.ToString();
                http.BaseAddress = new Uri(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/");
                // Waits in the limiter's queue can be long; each attempt has its own time-out instead.
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            // The default HttpClient logs print the URL, and the URL carries the app key.
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        // Outer: retries. Inner, once per attempt: a permit, the span, the key.
        client.AddResilienceHandler("flashduty", (pipeline, context) =>
            {
                var retry = context.ServiceProvider.GetRequiredService<IOptions<FlashdutyOptions>>().Value.Retry;
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = retry.MaxRetries,
                    Delay = retry.BaseDelay,
                    MaxDelay = retry.MaxDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    ShouldRetryAfterHeader = true,
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                    {
                        { Exception: HttpRequestException or TimeoutException } => true,
                        { Result: { } response } => FlashdutyAttemptHandler.IsRetryable(response),
                        _ => false,
                    }),
                });
            });
        client.AddHttpMessageHandler<FlashdutyAttemptHandler>();
        return builder;
    }
}
