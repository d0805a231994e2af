using System.Net.Http.Json;
using Flashduty.Simulator;
using FlashdutySync.Flashduty;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Flashduty;

/// <summary>The service's own client (retries, limiter, key on the URL) against the simulator playing each reading.</summary>
public sealed class FlashdutyClientTests : IAsyncLifetime
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private const string Key = "client-test-key";
    private SimulatorHost _sim = null!;
    private IHost _host = null!;

    private FlashdutyClient Client => _host.Services.GetRequiredService<FlashdutyClient>();

    public async Task InitializeAsync()
    {
        _sim = await SimulatorHost.StartAsync(o => o.AppKeys = [Key]);
        _sim.State.AddSchema(Schema, "host_owner", ["host"], ["owner"]);
        _host = BuildClientHost(_sim.BaseUrl);
    }

    private static IHost BuildClientHost(Uri baseUrl)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Flashduty:BaseUrl"] = baseUrl.ToString(),
            ["Flashduty:AppKey"] = Key,
            ["Flashduty:SchemaIds:0"] = Schema,
            ["Flashduty:Retry:BaseDelay"] = "00:00:00.050",
            ["Flashduty:Retry:MaxDelay"] = "00:00:00.200",
        });
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<SyncMetrics>();
        builder.AddFlashduty();
        return builder.Build();
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _sim.DisposeAsync();
    }

    [Theory]
    [InlineData(LockConflict.Locked423, "RequestLocked")]
    [InlineData(LockConflict.TooFrequently429, "RequestTooFrequently")]
    public async Task WriteRefusedByTheSchemaLock_IsRetriedWhateverTheStatus_AndLands(LockConflict conflict, string code)
    {
        var time = new FakeTimeProvider();
        await using var sim = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = [Key];
            o.Faults = new FaultOptions { LatencyMs = 1000 };
            o.Readings = new ApiReadings { LockConflict = conflict };
        }, time);
        sim.State.AddSchema(Schema, "host_owner", ["host"], ["owner"]);
        using var host = BuildClientHost(sim.BaseUrl);
        using var other = new HttpClient { BaseAddress = sim.BaseUrl };
        // Another writer holds the schema's lock until the fake clock moves on.
        var holding = other.PostAsJsonAsync($"/enrichment/mapping/data/upsert?app_key={Key}", new { schema_id = Schema, docs = new[] { new { host = "x", owner = "o" } } });
        await Support.Eventually.UntilAsync(() => sim.State.GetSchema(Schema)!.MaxConcurrentWrites == 1, TimeSpan.FromSeconds(5), "the other write to hold the lock");
        sim.State.Faults = new FaultOptions();

        var write = host.Services.GetRequiredService<FlashdutyClient>()
            .UpsertAsync(Schema, [new Dictionary<string, string> { ["host"] = "a", ["owner"] = "alice" }], [], CancellationToken.None);
        await Support.Eventually.UntilAsync(() => sim.State.Stats.ThrottledBy(SimStats.Causes.SchemaLock) >= 1, TimeSpan.FromSeconds(5), "the lock conflict");
        time.Advance(TimeSpan.FromSeconds(1));
        var (keys, _) = await write.WaitAsync(TimeSpan.FromSeconds(10));
        await holding;

        Assert.Equal(["a"], keys);
        Assert.Contains(sim.State.Stats.Recent(), r => r.ErrorCode == code);
        Assert.Equal("alice", sim.State.GetSchema(Schema)!.Snapshot().Single(r => r.Key == "a").Fields["owner"]);
    }

    [Theory]
    [InlineData(DownloadFormat.Csv)]
    [InlineData(DownloadFormat.CsvBom)]
    [InlineData(DownloadFormat.OctetStream)]
    [InlineData(DownloadFormat.Envelope)]
    public async Task Download_InEveryFormat_GivesTheRows(DownloadFormat format)
    {
        _sim.State.Readings = _sim.State.Readings with { DownloadFormat = format };
        _sim.State.SeedRows(Schema, Enumerable.Range(0, 100).Select(i => new Dictionary<string, string> { ["host"] = $"h{i}", ["owner"] = i == 3 ? "a, \"b\"\nc" : "o" }));

        var rows = await Client.DownloadAsync(Schema, ["host", "owner"], CancellationToken.None);

        Assert.Equal(100, rows.Rows.Count);
        Assert.Equal("a, \"b\"\nc", rows.Rows.Single(r => r["host"] == "h3")["owner"]);
    }

    [Fact]
    public async Task Download_OfAnEmptySchema_IsEmpty_WhateverTheFormat()
    {
        var rows = await Client.DownloadAsync(Schema, ["host", "owner"], CancellationToken.None);
        Assert.Empty(rows.Rows);
    }

    [Fact]
    public async Task MissingSchema_SchemaInfoIsNull_AndDataCallsFailAsNotFoundUnderResourceNotFound()
    {
        _sim.State.Readings = _sim.State.Readings with { MissingSchemaCode = MissingSchemaCode.ResourceNotFound };
        const string gone = "665f1a2b3c4d5e6f7a8b9cff";

        Assert.Null(await Client.GetSchemaInfoAsync(gone, CancellationToken.None));
        var ex = await Assert.ThrowsAsync<FlashdutyApiException>(() => Client.DownloadAsync(gone, ["host"], CancellationToken.None));
        Assert.Equal(FlashdutyErrorKind.NotFound, ex.Kind);
        Assert.Equal(400, ex.Status);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
    }
}
