using System.ComponentModel.DataAnnotations;

namespace FlashdutySync.Sync;

/// <summary>How the sync writes, parks and sets aside events; section <c>Sync</c>.</summary>
public sealed class SyncOptions
{
    public const string SectionName = "Sync";

    /// <summary>How long a decommissioned host's delete time is kept to stop older events re-creating its row. Default 24 h.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan DeleteRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long an event whose row misses labels may wait before it is set aside. Default 15 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan MaxIncompleteWait { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a parked event sits in the wait queue before it is tried again. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>While writes keep failing (Flashduty down, key refused, schema gone), how often a schema tries again. Default 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// While events keep coming in, how long changed rows may wait to coalesce before they are written anyway.
    /// At light load rows go at once; in a flood they wait at most this long, and a burst shorter than this costs
    /// about one doc per changed key. Default 30 s; range 0–10 min.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan MaxWriteDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long no event may have arrived before the inflow counts as quiet and a schema writes. A burst arrives
    /// far faster; a lone event has already waited its batch's time limit. Default 5 ms; range 0–1 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// The quiet period while events stream in (on average more than one every 10 ms): a stream's short pauses are
    /// not its end. Default 1 s (a publisher confirming every 2,000 events paused ~1 s at a time: at 200 ms the quick
    /// burst cost 6 requests, at 1 s 4, with light-load latency unchanged); range 0–10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan StreamQuietPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often each schema's rows are downloaded and compared with what the events set, and what differs written
    /// again (drift repair: a row edited in the console, a CSV upload, a lost row). Zero: never. Default 1 h: one
    /// download per schema an hour (plus one request per 1,000 rows that differ) against a budget of 60,000 requests
    /// an hour, and drift lasts an hour at most.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Drift repair also deletes rows Flashduty holds that no event ever set (data/delete, 100 keys a call). Default false.</summary>
    public bool Prune { get; set; }

    /// <summary>
    /// How long the first read of the schemas at start may take (schema/info and data/download, every schema at
    /// once). The health port answers only once the start is over, so this bounds how long the startup probe waits
    /// whatever Flashduty does; a schema not read in time is not ready and read again every probe interval. Default
    /// 30 s (a healthy read takes well under a second; Flashduty timing out every attempt would otherwise hold the
    /// start for 7 attempts × Flashduty:AttemptTimeout plus the backoff, twice: minutes); range 1 s–10 min.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan StartReadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Warn when a schema is this full (fraction of its cap). Default 0.9.</summary>
    [Range(0.0, 1.0)]
    public double FillWarning { get; set; } = 0.9;
}
