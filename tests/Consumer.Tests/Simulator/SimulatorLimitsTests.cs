using System.Net.Http.Json;
using Flashduty.Simulator;

namespace FlashdutySync.Tests.Simulator;

public sealed class SimulatorLimitsTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";

    private static async Task<SimulatorHost> StartAsync(Action<SimulatorOptions>? configure = null)
    {
        var host = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = ["k-full"];
            configure?.Invoke(o);
        });
        host.State.AddSchema(Schema, "host_owner", ["host"], ["owner", "team", "service"]);
        return host;
    }

    [Fact]
    public async Task AccountLimit_60RequestsInOneSecond_First50Pass_AtLeast10Get429()
    {
        await using var host = await StartAsync();
        using var client = new SimulatorClient(host);
        var statuses = new List<int>();
        for (var i = 0; i < 60; i++) statuses.Add((await client.PostAsync("data/list", new { schema_id = Schema })).Status);

        Assert.All(statuses.Take(50), s => Assert.Equal(200, s));
        Assert.True(statuses.Count(s => s == 429) >= 10);
        Assert.Equal(statuses.Count(s => s == 429), host.State.Stats.ThrottledBy(SimStats.Causes.AccountRate));
    }

    [Fact]
    public async Task AccountLimit_PerMinute_CountsEveryEndpoint_AndSendsRetryAfterOnlyWhenConfigured()
    {
        await using var host = await StartAsync(o =>
        {
            o.PerSecond = 0;
            o.PerMinute = 5;
            o.SendRetryAfter = true;
        });
        using var client = new SimulatorClient(host);
        for (var i = 0; i < 5; i++) Assert.Equal(200, (await client.PostAsync(i % 2 == 0 ? "data/list" : "schema/info", new { schema_id = Schema })).Status);

        var (status, body, _, response) = await client.PostAsync("data/download", new { schema_id = Schema });
        Assert.Equal(429, status);
        Assert.Equal("RequestTooFrequently", SimulatorClient.Code(body));
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task SchemaLock_SecondConcurrentUpsert_Gets429_WhileTheFirstIsHeldByLatency()
    {
        await using var host = await StartAsync(o => o.Faults = new FaultOptions { LatencyMs = 1500 });
        using var client = new SimulatorClient(host);
        var first = client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } });
        await Support.Eventually.UntilAsync(() => host.State.GetSchema(Schema)!.MaxConcurrentWrites == 1, TimeSpan.FromSeconds(5), "first write to arrive");

        var second = await client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("b") } });

        Assert.Equal(429, second.Status);
        Assert.Contains("being written", SimulatorClient.Message(second.Body));
        Assert.Equal(200, (await first).Status);
        Assert.Equal(1, host.State.Stats.ThrottledBy(SimStats.Causes.SchemaLock));
        Assert.Equal(2, host.State.GetSchema(Schema)!.MaxConcurrentWrites);
        Assert.Equal(["a"], host.State.GetSchema(Schema)!.Snapshot().Select(r => r.Key));
    }

    [Fact]
    public async Task Faults_InjectedServerErrorsAndThrottles_HaveNoEffect_AndAreCounted()
    {
        await using var host = await StartAsync(o => o.Faults = new FaultOptions { ServerErrorRate = 1.0, Seed = 1 });
        using var client = new SimulatorClient(host);

        var failed = await client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } });
        Assert.Contains(failed.Status, new[] { 500, 502, 503 });
        Assert.Equal(0, host.State.GetSchema(Schema)!.RowCount);

        // Changed at run time through the admin API.
        var put = await client.Http.PutAsJsonAsync("/_sim/faults", new FaultOptions { ThrottleRate = 1.0 });
        put.EnsureSuccessStatusCode();
        var throttled = await client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } });
        Assert.Equal(429, throttled.Status);
        Assert.Equal(1, host.State.Stats.ThrottledBy(SimStats.Causes.Injected));
        Assert.Equal(0, host.State.GetSchema(Schema)!.RowCount);

        var stats = await client.Http.GetStringAsync("/_sim/stats");
        Assert.Contains("\"injected\":1", stats);
        var recent = await client.Http.GetStringAsync("/_sim/requests");
        Assert.Contains("RequestTooFrequently", recent);

        (await client.Http.PostAsync("/_sim/reset", null)).EnsureSuccessStatusCode();
        Assert.Equal(0, host.State.Stats.Total429);
        Assert.Empty(host.State.Stats.Recent());
    }

    [Fact]
    public async Task Faults_DroppedAndHangingRequests_FailTheClient_WithoutEffect()
    {
        await using var host = await StartAsync(o => o.Faults = new FaultOptions { DropRate = 1.0 });
        using var client = new SimulatorClient(host);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } }));

        host.State.Faults = new FaultOptions { HangRate = 1.0, HangMs = 10_000 };
        using var impatient = new SimulatorClient(host);
        impatient.Http.Timeout = TimeSpan.FromMilliseconds(300);
        await Assert.ThrowsAsync<TaskCanceledException>(() => impatient.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } }));
        Assert.Equal(0, host.State.GetSchema(Schema)!.RowCount);
    }

    [Fact]
    public async Task Seeding_LoadsSchemasWithFixedIdsAndRows_FromAFile()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """
            {"schemas":[{"schema_id":"665f1a2b3c4d5e6f7a8b9c09","schema_name":"seeded","source_labels":["host"],"result_labels":["owner"],
              "row_cap": 5, "rows":[{"host":"a","owner":"x"}]}]}
            """);
        await using var host = await SimulatorHost.StartAsync(o => o.SeedFile = file);
        var schema = host.State.GetSchema("665f1a2b3c4d5e6f7a8b9c09")!;
        Assert.Equal(5, schema.RowCap);
        Assert.Equal("x", schema.Snapshot().Single().Fields["owner"]);
    }
}
