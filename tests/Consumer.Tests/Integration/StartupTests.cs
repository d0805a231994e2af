using System.Net;
using Flashduty.Simulator;
using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// How long a start takes when Flashduty does not answer: the health port answers only once every hosted service has
/// started, so the startup probe (deploy/k8s) is sized from Sync:StartReadTimeout, not from Flashduty's retries.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class StartupTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task FlashdutyHangingAtStart_TheStartEndsWithinTheStartReadTimeout_LiveButNotReady_ThenTheProbeLoadsTheSchemas()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Sync:StartReadTimeout"] = "00:00:01";
        // Every call hangs past its attempt's time-out (5 s here): unbounded, the start read would retry for ~80 s.
        h.Simulator.State.Faults = new FaultOptions { HangRate = 1, HangMs = 60_000 };

        var app = await h.StartServiceAsync().WaitAsync(TimeSpan.FromSeconds(15));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{new Uri(app.Urls.First()).Port}") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        var ready = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains($"schema {SyncHarness.HostSchema} is not loaded: Flashduty did not answer its schema/info and data/download within Sync:StartReadTimeout (00:00:01) at start",
            await ready.Content.ReadAsStringAsync());

        // Flashduty answers again: the probe reads the schemas, and they write.
        h.Simulator.State.Faults = new FaultOptions();
        await Eventually.UntilAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60),
            "ready once Flashduty answers");
        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).GetValueOrDefault("web-1")?["owner"] == "alice", TimeSpan.FromSeconds(30), "web-1 written");
        Assert.Equal("alice", h.Rows(SyncHarness.ServiceSchema)["api"]["owner"]);
    }
}
