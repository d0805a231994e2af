using System.Diagnostics.Metrics;

namespace FlashdutySync.Telemetry;

/// <summary>
/// The pipeline's instruments. Labels never carry the app key. Durations are in seconds (OpenTelemetry's and
/// Prometheus's base unit); the Prometheus endpoint names them with their unit, counters with <c>_total</c>.
/// </summary>
public sealed class SyncMetrics
{
    public const string MeterName = "FlashdutyMappingSync";

    // Buckets for what each histogram measures: the exporter's default (0–10,000) fits milliseconds, not seconds.
    private static readonly double[] LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] WaitBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private static readonly double[] FreshnessBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private static readonly double[] CountBuckets = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000];

    private readonly Meter _meter;

    public SyncMetrics(IMeterFactory meterFactory)
    {
        var meter = _meter = meterFactory.Create(MeterName);
        EventsConsumed = meter.CreateCounter<long>("sync.events.consumed", "{event}", "Events consumed, by type");
        EventsSetAside = meter.CreateCounter<long>("sync.events.set_aside", "{event}", "Events moved to the error queue, by reason");
        EventsParked = meter.CreateCounter<long>("sync.events.parked", "{event}", "Events sent to wait for a complete row");
        RowsSent = meter.CreateCounter<long>("sync.rows.sent", "{row}", "Rows (docs or keys) confirmed by Flashduty, by schema and operation");
        Requests = meter.CreateCounter<long>("flashduty.requests", "{request}", "Flashduty requests by endpoint and outcome");
        Throttled = meter.CreateCounter<long>("flashduty.throttled", "{request}", "429 answers, by cause");
        LimiterWait = Histogram("flashduty.limiter.wait", "s", "Time a request waited for the account limiter", WaitBuckets);
        RequestDuration = Histogram("flashduty.request.duration", "s", "Duration of one Flashduty attempt", LatencyBuckets);
        EventsPerRequest = Histogram("sync.coalescing.events_per_request", "{event}", "Events carried by one write", CountBuckets);
        Freshness = Histogram("sync.freshness", "s", "From an event's occurredAt to Flashduty confirming its row", FreshnessBuckets);
        ReconcileDifferent = meter.CreateCounter<long>("sync.reconcile.different", "{row}", "Rows drift repair found different from what the events set, per schema");
        ReconcileRepaired = meter.CreateCounter<long>("sync.reconcile.repaired", "{row}", "Rows drift repair wrote again, per schema");
        ReconcilePruned = meter.CreateCounter<long>("sync.reconcile.pruned", "{row}", "Rows no event set that drift repair deleted (Sync:Prune), per schema");
    }

    private Histogram<double> Histogram(string name, string unit, string description, double[] buckets) =>
        _meter.CreateHistogram(name, unit, description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    /// <summary>Observes, per schema: keys with a write pending, rows held, and the fill level against the cap.</summary>
    public void ObserveSchemas(Func<IEnumerable<(string SchemaId, int Pending, int Rows, int Cap)>> schemas)
    {
        _meter.CreateObservableGauge("sync.rows.pending", () => schemas().Select(s => new Measurement<int>(s.Pending, Schema(s.SchemaId))),
            "{row}", "Keys with a write pending, per schema");
        _meter.CreateObservableGauge("sync.rows.held", () => schemas().Select(s => new Measurement<int>(s.Rows, Schema(s.SchemaId))),
            "{row}", "Rows the schema holds once pending writes land");
        _meter.CreateObservableGauge("sync.rows.fill", () => schemas().Select(s => new Measurement<double>((double)s.Rows / s.Cap, Schema(s.SchemaId))),
            "1", "Rows against the schema's cap (1 = full)");
    }

    /// <summary>
    /// Observes this replica's role (1 while it holds the journal and writes, else 0: a standby) and, per configured
    /// schema, whether its writes are stopped (1: not loaded or paused, the reason in <c>/health/ready</c>). The
    /// schemas' callback yields nothing on a standby: only the holder says whether a schema writes.
    /// </summary>
    public void ObserveReplica(Func<bool> active, Func<IEnumerable<(string SchemaId, bool Stopped)>> schemas)
    {
        _meter.CreateObservableGauge("sync.replica.active", () => active() ? 1 : 0, "1", "1 while this replica holds the row journal and writes");
        _meter.CreateObservableGauge("sync.schema.paused", () => schemas().Select(s => new Measurement<int>(s.Stopped ? 1 : 0, Schema(s.SchemaId))),
            "1", "1 while a schema writes nothing (not loaded, key refused, schema gone), per schema");
    }

    /// <summary>Observes the account limiter: permits spent in the rolling second and minute, and the limits.</summary>
    public void ObserveLimiter(Func<(int LastSecond, int LastMinute)> used, int perSecond, int perMinute)
    {
        _meter.CreateObservableGauge("flashduty.limiter.permits", () =>
        {
            var (second, minute) = used();
            return new[] { new Measurement<int>(second, Window("1s")), new Measurement<int>(minute, Window("1m")) };
        }, "{request}", "Requests this process sent in the rolling window (retries included, a predecessor's counted)");
        _meter.CreateObservableGauge("flashduty.limiter.limit", () => new[] { new Measurement<int>(perSecond, Window("1s")), new Measurement<int>(perMinute, Window("1m")) },
            "{request}", "The account's budget per rolling window, as configured");
    }

    private static KeyValuePair<string, object?> Schema(string id) => new("schema_id", id);

    private static KeyValuePair<string, object?> Window(string window) => new("window", window);

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
