using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Simulator;

/// <summary>The readings a gateway plays (lock conflict, body size), and how readings are set: configuration, admin API, state.</summary>
public sealed class SimulatorReadingsAdminTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";

    private static async Task<SimulatorHost> StartAsync(Action<SimulatorOptions>? configure = null, TimeProvider? time = null)
    {
        var host = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = ["k-full"];
            o.PerSecond = 0;
            o.PerMinute = 0;
            configure?.Invoke(o);
        }, time);
        host.State.AddSchema(Schema, "host_owner", ["host"], ["owner", "team", "service"]);
        return host;
    }

    [Theory]
    [InlineData(LockConflict.TooFrequently429, 429, "RequestTooFrequently")]
    [InlineData(LockConflict.Locked423, 423, "RequestLocked")]
    public async Task LockConflict_SecondConcurrentWrite_IsRefusedAsTheReadingSays_WithoutEffect(LockConflict reading, int status, string code)
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(o =>
        {
            o.Faults = new FaultOptions { LatencyMs = 1000 };
            o.Readings = new ApiReadings { LockConflict = reading };
        }, time);
        using var client = new SimulatorClient(host);
        var first = client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } });
        await Eventually.UntilAsync(() => host.State.GetSchema(Schema)!.MaxConcurrentWrites == 1, TimeSpan.FromSeconds(5), "the first write to arrive");

        var second = await client.PostAsync("data/delete", new { schema_id = Schema, keys = new[] { "a" } });
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(status, second.Status);
        Assert.Equal(code, SimulatorClient.Code(second.Body));
        Assert.Contains("being written", SimulatorClient.Message(second.Body));
        Assert.Equal(200, (await first).Status);
        Assert.Equal(1, host.State.Stats.ThrottledBy(SimStats.Causes.SchemaLock));
        Assert.Equal(["a"], host.State.GetSchema(Schema)!.Snapshot().Select(r => r.Key));
    }

    [Fact]
    public async Task MaxBodyBytes_LargerBody_Is413EntityTooLargeWithoutEffect_SmallerPasses()
    {
        await using var host = await StartAsync(o => o.Readings = new ApiReadings { MaxBodyBytes = 2000 });
        using var client = new SimulatorClient(host);

        var big = await client.PostAsync("data/upsert", new { schema_id = Schema, docs = Enumerable.Range(0, 50).Select(i => Docs.Row($"h{i}")).ToArray() });
        Assert.Equal(413, big.Status);
        Assert.Equal("EntityTooLarge", SimulatorClient.Code(big.Body));
        Assert.Contains("the most is 2000", SimulatorClient.Message(big.Body));
        Assert.Equal(big.HeaderId, big.Body["request_id"]!.GetValue<string>());
        Assert.Equal(0, host.State.GetSchema(Schema)!.RowCount);

        Assert.Equal(200, (await client.PostAsync("data/upsert", new { schema_id = Schema, docs = Enumerable.Range(0, 10).Select(i => Docs.Row($"h{i}")).ToArray() })).Status);
        Assert.Equal(10, host.State.GetSchema(Schema)!.RowCount);
        Assert.Equal(1, host.State.Stats.Requests("data/upsert", 413));
    }

    [Fact]
    public async Task MaxBodyBytes_Default_IsOff()
    {
        await using var host = await StartAsync();
        using var client = new SimulatorClient(host);
        var docs = Enumerable.Range(0, 1000).Select(i => Docs.Row($"h{i}", new string('x', 1000))).ToArray();
        Assert.Equal(200, (await client.PostAsync("data/upsert", new { schema_id = Schema, docs })).Status);
    }

    [Fact]
    public async Task AdminApi_PutReadings_ChangesThem_GetAndStatsShowThemByName()
    {
        await using var host = await StartAsync();
        using var client = new SimulatorClient(host);

        var put = await client.Http.PutAsJsonAsync("/_sim/readings", new
        {
            downloadFormat = "OctetStream", keyOrder = "Docs", multiLabelKeySpelling = "Comma", lockConflict = "Locked423",
            missingSchemaCode = "ResourceNotFound", valueLimitUnit = "Characters", unknownKeyDelete = "Refuse", maxBodyBytes = 4096, seed = 3,
        });
        put.EnsureSuccessStatusCode();

        var expected = new ApiReadings
        {
            DownloadFormat = DownloadFormat.OctetStream, KeyOrder = KeyOrder.Docs, MultiLabelKeySpelling = KeySpelling.Comma,
            LockConflict = LockConflict.Locked423, MissingSchemaCode = MissingSchemaCode.ResourceNotFound,
            ValueLimitUnit = ValueLimitUnit.Characters, UnknownKeyDelete = UnknownKeyDelete.Refuse, MaxBodyBytes = 4096, Seed = 3,
        };
        Assert.Equal(expected, host.State.Readings);
        var got = (await client.Http.GetFromJsonAsync<JsonNode>("/_sim/readings"))!;
        Assert.Equal("OctetStream", got["downloadFormat"]!.GetValue<string>());
        Assert.Equal("Locked423", got["lockConflict"]!.GetValue<string>());
        Assert.Equal(4096, got["maxBodyBytes"]!.GetValue<int>());
        var stats = (await client.Http.GetFromJsonAsync<JsonNode>("/_sim/stats"))!;
        Assert.Equal("Refuse", stats["readings"]!["unknownKeyDelete"]!.GetValue<string>());
        var missing = await client.PostAsync("data/list", new { schema_id = "665f1a2b3c4d5e6f7a8b9cff" });
        Assert.Equal("ResourceNotFound", SimulatorClient.Code(missing.Body));
    }

    [Fact]
    public async Task AdminApi_PutReadingsOutOfRange_Is400_AndKeepsTheReadingsInForce()
    {
        await using var host = await StartAsync();
        using var client = new SimulatorClient(host);

        var negative = await client.Http.PutAsJsonAsync("/_sim/readings", new { maxBodyBytes = -1 });
        Assert.Equal(400, (int)negative.StatusCode);
        Assert.Contains("MaxBodyBytes", await negative.Content.ReadAsStringAsync());
        var unknown = await client.Http.PutAsJsonAsync("/_sim/readings", new { downloadFormat = "Xml" });
        Assert.Equal(400, (int)unknown.StatusCode);
        Assert.Equal(new ApiReadings(), host.State.Readings);
        Assert.Throws<ArgumentException>(() => host.State.Readings = new ApiReadings { KeyOrder = (KeyOrder)9 });
    }

    [Fact]
    public async Task Configuration_SimulatorReadingsSection_SetsTheReadingsAtStart()
    {
        await using var app = SimulatorApp.Build([
            "--urls", "http://127.0.0.1:0",
            "--Simulator:Readings:DownloadFormat=CsvBom", "--Simulator:Readings:KeyOrder=Docs",
            "--Simulator:Readings:MultiLabelKeySpelling=Comma", "--Simulator:Readings:LockConflict=Locked423",
            "--Simulator:Readings:MissingSchemaCode=ResourceNotFound", "--Simulator:Readings:ValueLimitUnit=Characters",
            "--Simulator:Readings:UnknownKeyDelete=Refuse", "--Simulator:Readings:MaxBodyBytes=100", "--Simulator:Readings:Seed=5",
        ]);

        var readings = app.Services.GetRequiredService<SimulatorState>().Readings;

        Assert.Equal(new ApiReadings
        {
            DownloadFormat = DownloadFormat.CsvBom, KeyOrder = KeyOrder.Docs, MultiLabelKeySpelling = KeySpelling.Comma,
            LockConflict = LockConflict.Locked423, MissingSchemaCode = MissingSchemaCode.ResourceNotFound,
            ValueLimitUnit = ValueLimitUnit.Characters, UnknownKeyDelete = UnknownKeyDelete.Refuse, MaxBodyBytes = 100, Seed = 5,
        }, readings);
    }
}
