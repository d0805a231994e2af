using FlashdutySync.Flashduty;
using FlashdutySync.Health;
using FlashdutySync.Messaging;
using FlashdutySync.Reconcile;
using FlashdutySync.Telemetry;

namespace FlashdutySync;

/// <summary>The service's composition, for <c>Program</c> and for tests that host it in-process.</summary>
public static class ServiceApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // Read when Kestrel starts, so that configuration added by the caller counts.
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
            kestrel.ListenAnyIP(context.Configuration.GetValue<int?>($"{HealthExtensions.SectionName}:Port") ?? 8080));
        builder.AddTelemetry();
        builder.AddFlashduty();
        builder.AddMessaging();
        builder.AddHealth();
        builder.AddReconcile();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapHealth();
        app.MapReconcile();
        app.MapTelemetry();
        return app;
    }
}
