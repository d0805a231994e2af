using System.Diagnostics.Metrics;

namespace FlashdutySync.Telemetry;

/// <summary>The pipeline's instruments. Labels never carry the app key.</summary>
public sealed class SyncMetrics
{
    public const string MeterName = "FlashdutyMappingSync";

    private readonly Meter _meter;

    public SyncMetrics(IMeterFactory meterFactory)
    {
        var meter = _meter = meterFactory.Create(MeterName);
        EventsConsumed = meter.CreateCounter<long>("sync.events.consumed", "{event}", "Events consumed, by type");
        EventsSetAside = meter.CreateCounter<long>("sync.events.set_aside", "{event}", "Events moved to the error queue, by reason");
        EventsParked = meter.CreateCounter<long>("sync.events.parked", "{event}", "Events sent to wait for a complete row");
        RowsSent = meter.CreateCounter<long>("sync.rows.sent", "{row}", "Rows (docs or keys) confirmed by Flashduty, by operation");
        Requests = meter.CreateCounter<long>("flashduty.requests", "{request}", "Flashduty requests by endpoint and outcome");
        Throttled = meter.CreateCounter<long>("flashduty.throttled", "{request}", "429 answers, by cause");
        LimiterWait = meter.CreateHistogram<double>("flashduty.limiter.wait", "ms", "Time a request waited for the account limiter");
        RequestDuration = meter.CreateHistogram<double>("flashduty.request.duration", "ms", "Duration of one Flashduty attempt");
        EventsPerRequest = meter.CreateHistogram<double>("sync.coalescing.events_per_request", "{event}", "Events carried by one write");
        Freshness = meter.CreateHistogram<double>("sync.freshness", "ms", "From an event's occurredAt to Flashduty confirming its row");
        ReconcileDifferent = meter.CreateCounter<long>("sync.reconcile.different", "{row}", "Rows drift repair found different from what the events set, per schema");
        ReconcileRepaired = meter.CreateCounter<long>("sync.reconcile.repaired", "{row}", "Rows drift repair wrote again, per schema");
        ReconcilePruned = meter.CreateCounter<long>("sync.reconcile.pruned", "{row}", "Rows no event set that drift repair deleted (Sync:Prune), per schema");
    }

    /// <summary>Observes, per schema: keys with a write pending, rows held, and the fill level against the cap.</summary>
    public void ObserveSchemas(Func<IEnumerable<(string SchemaId, int Pending, int Rows, int Cap)>> schemas)
    {
        _meter.CreateObservableGauge("sync.rows.pending", () => schemas().Select(s => new Measurement<int>(s.Pending, new KeyValuePair<string, object?>("schema_id", s.SchemaId))),
            "{row}", "Keys with a write pending, per schema");
        _meter.CreateObservableGauge("sync.rows.held", () => schemas().Select(s => new Measurement<int>(s.Rows, new KeyValuePair<string, object?>("schema_id", s.SchemaId))),
            "{row}", "Rows the schema holds once pending writes land");
        _meter.CreateObservableGauge("sync.rows.fill", () => schemas().Select(s => new Measurement<double>((double)s.Rows / s.Cap, new KeyValuePair<string, object?>("schema_id", s.SchemaId))),
            "1", "Rows against the schema's cap (1 = full)");
    }

    public Counter<long> EventsConsumed { get; }
    public Counter<long> EventsSetAside { get; }
    public Counter<long> EventsParked { get; }
    public Counter<long> RowsSent { get; }
    public Counter<long> Requests { get; }
    public Counter<long> Throttled { get; }
    public Histogram<double> LimiterWait { get; }
    public Histogram<double> RequestDuration { get; }
    public Histogram<double> EventsPerRequest { get; }
    public Histogram<double> Freshness { get; }
    public Counter<long> ReconcileDifferent { get; }
    public Counter<long> ReconcileRepaired { get; }
    public Counter<long> ReconcilePruned { get; }
}
