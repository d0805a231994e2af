using System.Diagnostics;
using System.Threading.Channels;
using FlashdutySync.Flashduty;
using FlashdutySync.Telemetry;

namespace FlashdutySync.Sync;

/// <summary>
/// One schema's rows, for one term of this replica as the journal's holder: applies events to per-label state
/// (newest occurredAt wins), marks what changed for the journal (see the Journal part), coalesces what is pending
/// to one write per key, and writes with a single request in flight (see the Writer part). Rows that arrive while a
/// write is in flight join the next one. A new term builds a new one from the journal and Flashduty's rows.
/// </summary>
internal sealed partial class SchemaSync
{
    private readonly object _sync = new();
    private readonly Dictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KeyState> _dirty = new(StringComparer.Ordinal);

    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly IMappingApi _api;
    private readonly SyncOptions _options;
    private readonly SyncMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private int _projectedRows;
    private bool _stopping;
    private TaskCompletionSource? _round;
    private readonly CancellationTokenSource _abort = new();
    private long _oldestPending;
    // Completed when a full request is pending: the writer waiting to coalesce writes at once.
    private TaskCompletionSource? _full;
    private bool _warnedFull;
    private readonly Revisits _revisits;

    private readonly InflowTracker _inflow;
    private readonly IReadOnlyList<string> _labels;
    private readonly IRefusedEvents _refused;

    public SchemaSync(SchemaDefinition schema, IMappingApi api, SyncOptions options, InflowTracker inflow, IRefusedEvents refused, SyncMetrics metrics, ILogger logger,
        TimeProvider time)
    {
        _inflow = inflow;
        _refused = refused;
        Schema = schema;
        _labels = schema.AllLabels;
        _hostIndex = schema.HostLabel is { } hostLabel ? schema.SourceLabels.ToList().IndexOf(hostLabel) : -1;
        _hostKeyed = schema.SourceLabels.Count > 1 && _hostIndex >= 0;
        _api = api;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _revisits = new Revisits(time, options.MaxWriteDelay);
    }

    public SchemaDefinition Schema { get; }

    /// <summary>Why the schema's writes are stopped (key refused, schema gone), or null while they flow.</summary>
    public string? PausedReason { get; private set; }

    /// <summary>Rows Flashduty will hold once the queued writes land.</summary>
    public int ProjectedRows { get { lock (_sync) return _projectedRows; } }

    public int PendingKeys { get { lock (_sync) return _dirty.Count; } }

    private static readonly Task<KeyOutcome> ChangesNothing = Task.FromResult(KeyOutcome.Applied);

    /// <summary>
    /// Applies one event to its row. Returns null when the event does not feed this schema; otherwise a task that
    /// completes when the row it leads to is confirmed, refused, or found incomplete. A decommission that names only
    /// the host, in a schema keyed by the host and other labels, applies to every row of that host.
    /// </summary>
    public Task<KeyOutcome>? Apply(InventoryEvent e, ActivityContext batch, EventCopy? copy = null)
    {
        // The schema's mapping says which of its labels the event sets; an event that does not feed it is no news here.
        if (Schema.Labels.LabelsOf(e, _labels) is not { } labels) return null;
        if (Schema.KeyOf(labels) is { } key)
        {
            lock (_sync) return ApplyToKey(key, e, labels, batch, copy);
        }

        return e.Kind == EventKind.HostDecommissioned && _hostKeyed && e.Host is { } host ? DecommissionHost(host, e, batch, copy) : null;
    }

    /// <summary>Applies the event to one row. Under the lock.</summary>
    private Task<KeyOutcome> ApplyToKey(string key, InventoryEvent e, IReadOnlyDictionary<string, string> labels, ActivityContext batch, EventCopy? copy)
    {
        if (_stopping) return Task.FromResult(KeyOutcome.Released);
        if (!_keys.TryGetValue(key, out var state)) state = NewKey(key);
        // A key with no row while the schema is at its cap: the event may be refused, and its labels undone.
        // Merging changes neither, so the copy is taken only then (it was one dictionary per event).
        var latest = state.Latest;
        var atCap = latest is null && _projectedRows >= Schema.RowCap;
        var before = atCap ? state.Labels.ToDictionary() : null;
        var deletedBefore = state.DeletedAt;
        var contributed = Merge(state, e, labels);
        // Every label it carries was already set by a newer event: it changes nothing (most events of a flood
        // that arrives out of time order; no target row, waiter or superseding to compute).
        if (contributed.Count == 0) return ChangesNothing;

        var target = TargetOf(state);
        if (target is not null && atCap)
        {
            Restore(state, before!, deletedBefore);
            return Task.FromResult(new KeyOutcome(OutcomeKind.Rejected,
                $"schema {Schema.SchemaId} is full: it holds its cap of {Schema.RowCap} rows, so new key '{Display(key)}' cannot be added", ErrorCode: "RowCapReached"));
        }

        // The event's times are news even where the row is not: journaled before the event is acknowledged. Its copy
        // only while it waits for a write (should Flashduty refuse the row, the copy goes to the error queue).
        var waiter = new Waiter(batch, e.OccurredAt, copy, contributed);
        if (Rows.Same(target, latest))
        {
            if (state.Pending is { } pending) Hold(pending, waiter);
            else if (state.InFlight is { } inFlight) Hold(inFlight, waiter);
            else
            {
                MarkForJournal(state, null);
                if (target is not null || e.Kind == EventKind.HostDecommissioned) return ChangesNothing; // Flashduty already holds the row
            }
        }
        else
        {
            _revisits.Changed(state);
            Requeue(state, target, [waiter]);
        }

        var waits = state.Pending?.Waiters.Contains(waiter) == true || state.InFlight?.Waiters.Contains(waiter) == true;
        MarkForJournal(state, waits ? waiter.Copy : null);

        if (target is null && e.Kind != EventKind.HostDecommissioned)
        {
            var missing = _labels.Where(l => state.Labels.GetValueOrDefault(l).Value is null).ToList();
            return Task.FromResult(new KeyOutcome(OutcomeKind.Incomplete,
                $"row '{Display(key)}' of schema {Schema.SchemaId} misses labels {string.Join(", ", missing)}"));
        }

        return waiter.Task;
    }

    /// <summary>Applies the event's labels that are newer than what the key has; returns the ones it set.</summary>
    private HashSet<string> Merge(KeyState state, InventoryEvent e, IReadOnlyDictionary<string, string> labels)
    {
        var contributed = new HashSet<string>(StringComparer.Ordinal);
        if (e.Kind == EventKind.HostDecommissioned)
        {
            if (state.DeletedAt is { } earlier && e.OccurredAt < earlier) return contributed;
            state.DeletedAt = e.OccurredAt;
            state.DeletedSeen = _time.GetUtcNow();
            // Every label, also those no event has set yet: a provision older than the decommission that is consumed
            // after it (another event type, another batch) must not create the row, however old both are.
            foreach (var label in _labels)
            {
                if (!state.Labels.TryGetValue(label, out var stamped) || stamped.At <= e.OccurredAt) state.Labels[label] = new Stamped(null, e.OccurredAt);
            }

            contributed.Add(DeleteMark);
            return contributed;
        }

        // An event older than the host's decommissioning may not bring the row back.
        if (state.DeletedAt is { } deleted && e.OccurredAt < deleted && StillStops(deleted, state.DeletedSeen, _time.GetUtcNow())) return contributed;
        foreach (var label in _labels)
        {
            if (!labels.TryGetValue(label, out var value)) continue;
            // Equal times: the later arrival wins.
            if (state.Labels.TryGetValue(label, out var current) && e.OccurredAt < current.At) continue;
            state.Labels[label] = new Stamped(value, e.OccurredAt);
            contributed.Add(label);
        }

        // The key's own labels (and the mapping's constants) are carried by every event of the key; alone they change nothing.
        if (contributed.All(l => Schema.SourceLabels.Contains(l) || Schema.Labels.IsConstant(l)) && state.Latest is not null) contributed.Clear();
        return contributed;
    }

    private static void Restore(KeyState state, Dictionary<string, Stamped> labels, DateTimeOffset? deletedAt)
    {
        state.Labels.Clear();
        foreach (var (label, stamped) in labels) state.Labels[label] = stamped;
        state.DeletedAt = deletedAt;
    }

    private Dictionary<string, string>? TargetOf(KeyState state)
    {
        var row = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var label in _labels)
        {
            if (state.Labels.GetValueOrDefault(label).Value is not { } value) return null;
            row[label] = value;
        }

        return row;
    }

    /// <summary>Queues <paramref name="target"/> as the key's next write, keeping whoever already waits on the pending one.</summary>
    private void Requeue(KeyState state, IReadOnlyDictionary<string, string>? target, IEnumerable<Waiter> waiters)
    {
        var wasLive = state.Latest is not null;
        state.Repair = RepairKind.None; // an event's write replaces a repair (Repair and Prune set it again after this)
        state.Pending ??= new Write(target);
        state.Pending.Target = target;
        foreach (var waiter in waiters) Hold(state.Pending, waiter);
        if (_dirty.Count == 0) _oldestPending = _time.GetTimestamp();
        _dirty[state.Key] = state;
        _projectedRows += (state.Latest is not null ? 1 : 0) - (wasLive ? 1 : 0);
        _signal.Writer.TryWrite(true);
        if (WritePolicy.IsWorthAFullRequest(_dirty.Count, _revisits.Share)) _full?.TrySetResult();
    }

    /// <summary>
    /// This replica stops holding the journal (it stops, or lost the lock): let the write in flight finish, start no
    /// other. When <paramref name="ct"/> runs out first (the host's shutdown time, or at once on a lost lock), the
    /// write is cancelled — its request aborted — so that it cannot land after the next holder's (#13 defect 4).
    /// Acknowledged events need nothing more: the journal holds them for the next holder.
    /// </summary>
    public async Task QuiesceAsync(CancellationToken ct)
    {
        Task writing;
        lock (_sync)
        {
            _stopping = true;
            writing = _round?.Task ?? Task.CompletedTask;
        }

        try
        {
            await writing.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await AbortAsync().ConfigureAwait(false);
            // The round ends once the request is aborted (HttpClient cancels it at once).
            await writing.WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Stops writing at once: the request in flight is aborted.</summary>
    public Task AbortAsync()
    {
        lock (_sync)
        {
            _stopping = true;
            // Aborted is not idle: Flashduty may still apply a request it had received.
            if (_round is { Task.IsCompleted: false }) Aborted = true;
        }

        return _abort.CancelAsync();
    }

    /// <summary>A request was aborted in flight: the next holder must wait it out.</summary>
    public bool Aborted { get; private set; }

    /// <summary>True once no request of this schema is in flight, and none was cut off (see <see cref="Aborted"/>).</summary>
    public bool Idle
    {
        get { lock (_sync) return !Aborted && (_round is null || _round.Task.IsCompleted); }
    }

    /// <summary>
    /// Most events that wait on one row's write: past this, one of the oldest whose every label a newer waiting event
    /// overwrote is settled (memory and the journal then follow the rows changed during an outage, not every event).
    /// One that alone set a label stays: should Flashduty refuse the row, it goes to the error queue with the rest.
    /// </summary>
    private const int MaxWaitersPerRow = 64;

    /// <summary>How many of the oldest are looked at for one that can be settled: bounded work per event.</summary>
    private const int SettleCandidates = 8;

    /// <summary>Under the lock.</summary>
    private static void Hold(Write write, Waiter waiter)
    {
        var waiters = write.Waiters;
        waiters.Add(waiter);
        if (waiters.Count <= MaxWaitersPerRow) return;
        for (var i = 0; i < Math.Min(SettleCandidates, waiters.Count - 1); i++)
        {
            if (waiters[i].Contributed is not { } labels) continue;
            var overwritten = true;
            foreach (var label in labels)
            {
                var newer = false;
                for (var j = i + 1; j < waiters.Count && !newer; j++) newer = waiters[j].Contributed?.Contains(label) != false;
                if (!newer)
                {
                    overwritten = false;
                    break;
                }
            }

            if (!overwritten) continue;
            var settled = waiters[i];
            waiters.RemoveAt(i);
            settled.Complete(KeyOutcome.Applied);
            return;
        }
    }

    private string Display(string key) => key.Replace(Separator, ',');
}
