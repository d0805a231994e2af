namespace Flashduty.Simulator;

/// <summary>The simulator hosted in-process on a free loopback port, for tests and the benchmark.</summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SimulatorHost(WebApplication app, SimulatorState state, Uri baseUrl)
    {
        _app = app;
        State = state;
        BaseUrl = baseUrl;
    }

    public SimulatorState State { get; }
    public Uri BaseUrl { get; }

    public static async Task<SimulatorHost> StartAsync(Action<SimulatorOptions>? configure = null, TimeProvider? time = null)
    {
        var app = SimulatorApp.Build(["--urls", "http://127.0.0.1:0"], configure, time);
        await app.StartAsync();
        var address = app.Urls.First();
        return new SimulatorHost(app, app.Services.GetRequiredService<SimulatorState>(), new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
