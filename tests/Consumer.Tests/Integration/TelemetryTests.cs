using System.Diagnostics;
using Flashduty.Simulator;
using FlashdutySync.Telemetry;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace FlashdutySync.Tests.Integration;

[Collection(BrokerCollection.Name)]
public sealed class TelemetryTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly ActivitySource Publisher = new("Tests.Publisher");

    private static Task<WebApplication> StartTracedAsync(SyncHarness h, List<Activity> spans, CapturingLoggerProvider? logs = null) =>
        h.StartServiceAsync(builder =>
        {
            builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
            if (logs is not null)
            {
                builder.Logging.AddProvider(logs);
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
            }
        });

    [Fact]
    public async Task PublishBatchUpsert_BatchSpanLinksEveryMessage_UpsertSpanCarriesTheSimulatorsRequestId()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var spans = new List<Activity>();
        await StartTracedAsync(h, spans);
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == Publisher.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        var published = new List<ActivityContext>();
        for (var i = 0; i < 3; i++)
        {
            using var send = Publisher.StartActivity("publish", ActivityKind.Producer)!;
            published.Add(send.Context);
            await h.PublishRawAsync(InventoryExchanges.HostProvisioned, new { host = $"web-{i}", owner = "alice", team = "sre", service = "api", occurredAt = T0 },
                new Dictionary<string, object?> { ["traceparent"] = send.Id });
        }

        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 3, TimeSpan.FromSeconds(20), "three rows");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        await h.AssertNothingLeftAsync();

        // Spans of this test's service only: other tests run services in this process at the same time.
        var ours = published.Select(p => p.SpanId).ToHashSet();
        var batches = spans.Where(s => s.Source.Name == SyncTelemetry.SourceName && s.Kind == ActivityKind.Consumer && s.Links.Any(l => ours.Contains(l.Context.SpanId))).ToList();
        Assert.NotEmpty(batches);
        var linked = batches.SelectMany(b => b.Links).Select(l => l.Context.SpanId).ToHashSet();
        Assert.All(published, p => Assert.Contains(p.SpanId, linked));
        Assert.Equal(3, batches.Sum(b => (int)b.GetTagItem(SyncTelemetry.Tags.BatchCount)!));

        // The three rows may go in one upsert or more, depending on how they arrived: every upsert span carries the
        // request id the simulator gave that very request.
        var answeredHere = h.Simulator.State.Stats.Recent().Select(r => r.RequestId).ToHashSet();
        var upserts = spans.Where(s => s.OperationName == "flashduty.upsert" && (string?)s.GetTagItem(SyncTelemetry.Tags.SchemaId) == SyncHarness.HostSchema &&
                                       s.GetTagItem(SyncTelemetry.Tags.RequestId) is string id && answeredHere.Contains(id)).ToList();
        Assert.NotEmpty(upserts);
        Assert.Equal(3, upserts.Sum(u => (int)u.GetTagItem(SyncTelemetry.Tags.Docs)!));
        var batchSpanIds = batches.Select(b => b.SpanId).ToHashSet();
        foreach (var upsert in upserts)
        {
            var requestId = (string?)upsert.GetTagItem(SyncTelemetry.Tags.RequestId);
            var answered = Assert.Single(h.Simulator.State.Stats.Recent(), r => r.RequestId == requestId);
            Assert.Equal("data/upsert", answered.Endpoint);
            Assert.Equal(upsert.GetTagItem(SyncTelemetry.Tags.Docs), answered.Count);
            Assert.Equal(1, upsert.GetTagItem(SyncTelemetry.Tags.Attempt));
            Assert.Equal(200, upsert.GetTagItem(SyncTelemetry.Tags.HttpStatus));
            Assert.NotNull(upsert.GetTagItem(SyncTelemetry.Tags.LimiterWaitMs));
            Assert.Contains(upsert.Links, l => batchSpanIds.Contains(l.Context.SpanId));
        }

        Assert.Contains(spans, s => s.OperationName == "flashduty.download");
        Assert.Contains(spans, s => s.OperationName == "flashduty.schema_info");
    }

    [Fact]
    public async Task TheAppKey_AppearsInNoSpanAndNoLogLine_EvenWithFailuresRetriesAndA401()
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Faults = new FaultOptions { ServerErrorRate = 0.3, ThrottleRate = 0.1, Seed = 5 });
        var spans = new List<Activity>();
        var logs = new CapturingLoggerProvider();
        await StartTracedAsync(h, spans, logs);
        for (var i = 0; i < 50; i++) await h.ProvisionAsync($"h{i}", "alice", "sre", $"svc-{i % 5}", T0.AddSeconds(i));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 50, TimeSpan.FromSeconds(60), "fifty rows");

        h.Simulator.State.RemoveKey(SyncHarness.AppKey);
        await h.OwnerChangedAsync("h1", "bob", T0.AddHours(1));
        // The service's own line, not any line with "401" in it: Polly's logs carry durations such as "12.4015ms".
        await Eventually.UntilAsync(() => logs.Lines.Any(l => l.Contains("refuses the app key (401)")), TimeSpan.FromSeconds(20), "the 401 to be logged");
        h.Simulator.State.SetKey(SyncHarness.AppKey, readOnly: false);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema)["h1"]["owner"] == "bob", TimeSpan.FromSeconds(20), "recovery");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        await h.AssertNothingLeftAsync();

        Assert.Contains(spans, s => s.Status == ActivityStatusCode.Error && s.OperationName.StartsWith("flashduty.", StringComparison.Ordinal));
        Assert.Contains(spans, s => (int?)s.GetTagItem(SyncTelemetry.Tags.Attempt) > 1);
        var everything = spans.SelectMany(s => s.TagObjects.Select(t => $"{t.Key}={t.Value}")
                .Concat(s.Events.SelectMany(e => e.Tags.Select(t => $"{t.Key}={t.Value}")))
                .Append(s.DisplayName).Append(s.StatusDescription ?? ""))
            .Concat(logs.Lines).ToList();
        Assert.NotEmpty(logs.Lines);
        Assert.DoesNotContain(everything, line => line.Contains(SyncHarness.AppKey, StringComparison.Ordinal));
        Assert.DoesNotContain(everything, line => line.Contains("app_key=", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("Flashduty__AppKey"));
    }
}
