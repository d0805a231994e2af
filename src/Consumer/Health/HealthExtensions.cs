using FlashdutySync.Sync;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlashdutySync.Health;

public static class HealthExtensions
{
    public const string SectionName = "Health";

    /// <summary>
    /// Adds liveness and readiness. Ready means: the broker is connected (MassTransit's check), every schema is
    /// loaded, and no schema is paused by a refused key or a missing schema. Served on <c>Health:Port</c> (default 8080).
    /// </summary>
    public static IHostApplicationBuilder AddHealth(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks().AddCheck<EngineHealthCheck>("flashduty-sync", tags: ["ready"]);
        return builder;
    }

    public static WebApplication MapHealth(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        // Not ready says why (a schema not loaded, paused, the broker): an operator reads it with curl. No secret is in a reason.
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteReasonsAsync });
        return app;
    }

    private static Task WriteReasonsAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var reasons = report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
            .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? e.Value.Status.ToString()}");
        return context.Response.WriteAsync(report.Status == HealthStatus.Healthy ? "Healthy" : $"{report.Status}: {string.Join("; ", reasons)}");
    }
}

internal sealed class EngineHealthCheck(MappingEngine engine) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engine.NotReadyReason is { } reason ? HealthCheckResult.Unhealthy(reason) : HealthCheckResult.Healthy());
}
