using FlashdutySync.Flashduty;
using FlashdutySync.Health;
using FlashdutySync.Messaging;
using FlashdutySync.Telemetry;

namespace FlashdutySync;

/// <summary>The service's composition, for <c>Program</c> and for tests that host it in-process.</summary>
public static class ServiceApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var port = builder.Configuration.GetValue<int?>($"{HealthExtensions.SectionName}:Port") ?? 8080;
        builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
        builder.AddTelemetry();
        builder.AddFlashduty();
        builder.AddMessaging();
        builder.AddHealth();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapHealth();
        return app;
    }
}
