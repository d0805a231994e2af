using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace Flashduty.Simulator;

/// <summary>Builds the simulator's web application, for <c>Program</c> and for tests that host it in-process.</summary>
public static class SimulatorApp
{
    private static readonly JsonSerializerOptions SnakeCase = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static WebApplication Build(string[] args, Action<SimulatorOptions>? configure = null, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var options = builder.Configuration.GetSection(SimulatorOptions.SectionName).Get<SimulatorOptions>() ?? new SimulatorOptions();
        configure?.Invoke(options);
        var state = new SimulatorState(options, time);
        if (options.SeedFile is { Length: > 0 } seed) SeedFile.Load(state, seed);
        builder.Services.AddSingleton(state);

        var app = builder.Build();
        app.Map("/enrichment/mapping/{**endpoint}", (HttpContext http, string? endpoint) => HandleAsync(http, state, endpoint ?? ""));
        AdminApi.Map(app, state);
        app.MapFallback((HttpContext http) => Results.Json(
            new { request_id = RequestIds.New(state.Time.GetUtcNow()), error = new { code = "RouteNotFound", message = $"no API at {http.Request.Path}" } },
            statusCode: 404));
        return app;
    }

    private static async Task HandleAsync(HttpContext http, SimulatorState state, string endpoint)
    {
        var fault = state.DrawFault();
        if (fault.Kind == FaultKind.Drop)
        {
            http.Abort();
            state.Stats.Record(new RecentRequest(state.Time.GetUtcNow(), endpoint, null, 0, 0, "ConnectionDropped", ""));
            return;
        }

        if (fault.Kind == FaultKind.Hang)
        {
            try
            {
                await Task.Delay(fault.Hang, state.Time, http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // the client gave up, as intended
            }

            state.Stats.Record(new RecentRequest(state.Time.GetUtcNow(), endpoint, null, 0, 0, "Hung", ""));
            http.Abort();
            return;
        }

        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
        var answer = await state.HandleAsync(endpoint, http.Request.Method, http.Request.Query["app_key"].FirstOrDefault(),
            http.Request.ContentType, buffer.GetBuffer().AsMemory(0, (int)buffer.Length), fault, http.RequestAborted);
        http.Response.StatusCode = answer.Status;
        http.Response.Headers["Flashcat-Request-Id"] = answer.RequestId;
        if (answer.RetryAfterSeconds is { } seconds) http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (answer.Body is RawBody raw)
        {
            http.Response.ContentType = raw.ContentType;
            if (raw.FileName is { } name)
            {
                var disposition = new ContentDispositionHeaderValue("attachment");
                disposition.SetHttpFileName(name);
                http.Response.Headers.ContentDisposition = disposition.ToString();
            }

            http.Response.ContentLength = raw.Content.Length;
            await http.Response.Body.WriteAsync(raw.Content, http.RequestAborted);
            return;
        }

        await http.Response.WriteAsJsonAsync(answer.Body, SnakeCase, http.RequestAborted);
    }
}
