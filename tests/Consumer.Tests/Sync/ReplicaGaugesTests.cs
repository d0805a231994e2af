using System.Diagnostics.Metrics;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>
/// What a replica's gauges say about its role: only the holder of the journal reports whether a schema writes, so that
/// a standby that could not read a schema (Flashduty down at its start, a new pod with a refused key) neither raises
/// FlashdutySyncSchemaPaused for the deployment nor adds a second series to aggregate.
/// </summary>
public sealed class ReplicaGaugesTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The gauges of one engine's meter only (other tests create meters of the same name in this process).</summary>
    private sealed class Gauges : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Instrument, long Value, string? SchemaId)> _seen = [];

        public Gauges(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Scope == scope && i.Meter.Name == SyncMetrics.MeterName) l.EnableMeasurementEvents(i);
            };
            _listener.SetMeasurementEventCallback<int>((i, value, tags, _) =>
            {
                string? schema = null;
                foreach (var tag in tags) if (tag.Key == "schema_id") schema = (string?)tag.Value;
                _seen.Add((i.Name, value, schema));
            });
            _listener.Start();
        }

        public IReadOnlyList<(string Instrument, long Value, string? SchemaId)> Collect()
        {
            _seen.Clear();
            _listener.RecordObservableInstruments();
            return [.. _seen];
        }

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task SchemaPaused_OnAStandbyThatCannotReadItsSchema_IsNotReported_AndOnceItHoldsTheJournal_ItIs()
    {
        // Given a replica whose read of the schema failed at start (here: Flashduty says there is no such schema).
        var api = new FakeMappingApi { SchemaExists = false };
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        using var gauges = new Gauges(meters);
        var engine = new MappingEngine(api, Options.Create(new FlashdutyOptions { AppKey = "k", SchemaIds = [Schema] }),
            Options.Create(new SyncOptions { ProbeInterval = TimeSpan.FromSeconds(15) }), new InflowTracker(10), new InMemoryRowJournal(),
            DiscardRefusedEvents.Instance, new SyncMetrics(meters), NullLogger<MappingEngine>.Instance, new FakeTimeProvider(T0));
        await engine.StartAsync(CancellationToken.None);
        Assert.NotNull(engine.NotReadyReason); // not ready says so: that is the standby's signal, not the alert's

        // When it is a standby: its role is reported, whether the schema writes is not.
        var standby = gauges.Collect();
        Assert.Contains(("sync.replica.active", 0L, null), standby);
        Assert.DoesNotContain(standby, m => m.Instrument == "sync.schema.paused");

        // When it holds the journal, the schema it cannot read is paused: 1.
        engine.ActivateWithoutEvents();
        await Support.Eventually.UntilAsync(() => gauges.Collect().Contains(("sync.replica.active", 1L, null)), TimeSpan.FromSeconds(10), "the term to start");
        var active = gauges.Collect();
        Assert.Equal([("sync.schema.paused", 1L, Schema)], active.Where(m => m.Instrument == "sync.schema.paused"));
        await engine.StopAsync(CancellationToken.None);
    }
}
