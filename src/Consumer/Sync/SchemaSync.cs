using System.Diagnostics;
using System.Threading.Channels;
using FlashdutySync.Flashduty;
using FlashdutySync.Telemetry;

namespace FlashdutySync.Sync;

/// <summary>
/// One schema's rows: applies events to per-label state (newest occurredAt wins), coalesces what is pending to
/// one write per key, and writes with a single request in flight (see the Writer part). Rows that arrive while
/// a write is in flight join the next one: group commit, with no timer.
/// </summary>
internal sealed partial class SchemaSync
{
    private readonly object _sync = new();
    private readonly Dictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KeyState> _dirty = new(StringComparer.Ordinal);

    private List<(KeyState State, Waiter Waiter)> _stampsOnly = [];
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
    private long _lastRoundEnded;
    private bool _warnedFull;

    private readonly InflowTracker _inflow;
    private readonly IStampStore _stamps;

    public SchemaSync(SchemaDefinition schema, IMappingApi api, SyncOptions options, InflowTracker inflow, IStampStore stamps, SyncMetrics metrics, ILogger logger,
        TimeProvider time)
    {
        _inflow = inflow;
        _stamps = stamps;
        Schema = schema;
        _hostIndex = schema.SourceLabels.ToList().IndexOf(HostLabel);
        _hostKeyed = schema.SourceLabels.Count > 1 && _hostIndex >= 0;
        _api = api;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _time = time;
    }

    public SchemaDefinition Schema { get; }

    /// <summary>Why the schema's writes are stopped (key refused, schema gone), or null while they flow.</summary>
    public string? PausedReason { get; private set; }

    /// <summary>Rows Flashduty will hold once the queued writes land.</summary>
    public int ProjectedRows { get { lock (_sync) return _projectedRows; } }

    public int PendingKeys { get { lock (_sync) return _dirty.Count; } }

    /// <summary>Replaces what is known with a fresh download and stamps. Only before any event was applied.</summary>
    public void Reload(IEnumerable<IReadOnlyDictionary<string, string>> rows, IReadOnlyDictionary<string, RowStamps>? stamps)
    {
        lock (_sync)
        {
            if (_dirty.Count > 0 || _stampsOnly.Count > 0 || _keys.Values.Any(k => k.Holders.Count > 0 || k.InFlight is not null)) return;
            _keys.Clear();
            _hostKeys.Clear();
            Load(rows, stamps);
        }
    }

    /// <summary>
    /// Takes the schema's current rows (from <c>data/download</c>) as the starting point, each label as old as the
    /// saved stamps say (or the oldest possible when none was saved). Rows the service deleted keep their tombstone.
    /// </summary>
    public void Load(IEnumerable<IReadOnlyDictionary<string, string>> rows, IReadOnlyDictionary<string, RowStamps>? stamps = null)
    {
        lock (_sync)
        {
            foreach (var row in rows)
            {
                // A row whose source values hold the key separator cannot be told from another row's: left alone.
                if (Schema.KeyOf(row) is not { } key || !Schema.AllLabels.All(row.ContainsKey) ||
                    Schema.SourceLabels.Any(l => row[l].Contains(Separator, StringComparison.Ordinal))) continue;
                var state = NewKey(key);
                state.Confirmed = Schema.AllLabels.ToDictionary(l => l, l => row[l], StringComparer.Ordinal);
                var saved = stamps?.GetValueOrDefault(key);
                foreach (var label in Schema.AllLabels) state.Labels[label] = new Stamped(row[label], saved?.Labels.GetValueOrDefault(label) ?? DateTimeOffset.MinValue);
                state.DeletedAt = saved?.DeletedAt;
            }

            // A row the service deleted: older events may still not bring it back (see SyncOptions.DeleteRetention).
            foreach (var (key, saved) in stamps ?? new Dictionary<string, RowStamps>())
            {
                if (_keys.ContainsKey(key) || saved.DeletedAt is not { } deletedAt) continue;
                var state = NewKey(key);
                state.DeletedAt = deletedAt;
                foreach (var (label, at) in saved.Labels) state.Labels[label] = new Stamped(null, at);
            }

            _projectedRows = _keys.Values.Count(k => k.Latest is not null);
        }
    }

    private static readonly Task<KeyOutcome> ChangesNothing = Task.FromResult(KeyOutcome.Applied);

    /// <summary>
    /// Applies one event to its row. Returns null when the event does not feed this schema; otherwise a task that
    /// completes when the row it leads to is confirmed, refused, or found incomplete. A decommission that names only
    /// the host, in a schema keyed by the host and other labels, applies to every row of that host.
    /// </summary>
    public Task<KeyOutcome>? Apply(InventoryEvent e, ActivityContext batch)
    {
        if (Schema.KeyOf(e.Labels) is { } key)
        {
            lock (_sync) return ApplyToKey(key, e, batch);
        }

        return e.Kind == EventKind.HostDecommissioned && _hostKeyed && e.Labels.TryGetValue(HostLabel, out var host) ? DecommissionHost(host, e, batch) : null;
    }

    /// <summary>Applies the event to one row. Under the lock.</summary>
    private Task<KeyOutcome> ApplyToKey(string key, InventoryEvent e, ActivityContext batch)
    {
        if (_stopping) return Task.FromResult(KeyOutcome.Released);
        if (!_keys.TryGetValue(key, out var state)) state = NewKey(key);
        // A key with no row while the schema is at its cap: the event may be refused, and its labels undone.
        // Merging changes neither, so the copy is taken only then (it was one dictionary per event).
        var latest = state.Latest;
        var atCap = latest is null && _projectedRows >= Schema.RowCap;
        var before = atCap ? state.Labels.ToDictionary() : null;
        var deletedBefore = state.DeletedAt;
        var contributed = Merge(state, e);
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

        Supersede(state, contributed);
        var waiter = new Waiter(batch, e.OccurredAt, contributed);
        if (Rows.Same(target, latest))
        {
            if (state.Pending is { } pending) pending.Waiters.Add(waiter);
            else if (state.InFlight is { } inFlight) inFlight.Waiters.Add(waiter);
            else
            {
                // Flashduty already holds the row, but the event's times are news: saved before it is acknowledged.
                _stampsOnly.Add((state, waiter));
                _signal.Writer.TryWrite(true);
            }
        }
        else
        {
            Requeue(state, target, [waiter]);
        }

        if (!waiter.Task.IsCompleted) state.Holders.Add(waiter);
        if (target is null && e.Kind != EventKind.HostDecommissioned)
        {
            var missing = Schema.AllLabels.Where(l => state.Labels.GetValueOrDefault(l).Value is null).ToList();
            return Task.FromResult(new KeyOutcome(OutcomeKind.Incomplete,
                $"row '{Display(key)}' of schema {Schema.SchemaId} misses labels {string.Join(", ", missing)}"));
        }

        return waiter.Task;
    }

    /// <summary>Applies the event's labels that are newer than what the key has; returns the ones it set.</summary>
    private HashSet<string> Merge(KeyState state, InventoryEvent e)
    {
        var contributed = new HashSet<string>(StringComparer.Ordinal);
        if (e.Kind == EventKind.HostDecommissioned)
        {
            if (state.DeletedAt is { } earlier && e.OccurredAt < earlier) return contributed;
            state.DeletedAt = e.OccurredAt;
            // Every label, also those no event has set yet: a provision older than the decommission that is consumed
            // after it (another event type, another batch) must not create the row, however old both are.
            foreach (var label in Schema.AllLabels)
            {
                if (!state.Labels.TryGetValue(label, out var stamped) || stamped.At <= e.OccurredAt) state.Labels[label] = new Stamped(null, e.OccurredAt);
            }

            contributed.Add(Waiter.DeleteMark);
            return contributed;
        }

        // An event older than the host's decommissioning may not bring the row back.
        if (state.DeletedAt is { } deleted && e.OccurredAt < deleted && _time.GetUtcNow() - deleted < _options.DeleteRetention) return contributed;
        foreach (var label in Schema.AllLabels)
        {
            if (!e.Labels.TryGetValue(label, out var value)) continue;
            // Equal times: the later arrival wins.
            if (state.Labels.TryGetValue(label, out var current) && e.OccurredAt < current.At) continue;
            state.Labels[label] = new Stamped(value, e.OccurredAt);
            contributed.Add(label);
        }

        // The key's own labels are carried by every event of the key; alone they change nothing.
        if (contributed.All(Schema.SourceLabels.Contains) && state.Latest is not null) contributed.Clear();
        return contributed;
    }

    /// <summary>Settles the held events whose every label this newer event has overwritten.</summary>
    private void Supersede(KeyState state, HashSet<string> overwritten)
    {
        if (overwritten.Count == 0 || state.Holders.Count == 0) return;
        foreach (var holder in state.Holders.ToList())
        {
            holder.Contributed.ExceptWith(overwritten);
            if (holder.Contributed.Count > 0 && !holder.Contributed.All(Schema.SourceLabels.Contains)) continue;
            holder.Complete(KeyOutcome.Applied);
            state.Holders.Remove(holder);
        }
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
        foreach (var label in Schema.AllLabels)
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
        state.Pending ??= new Write(target);
        state.Pending.Target = target;
        state.Pending.Waiters.AddRange(waiters);
        if (_dirty.Count == 0) _oldestPending = _time.GetTimestamp();
        _dirty[state.Key] = state;
        _projectedRows += (state.Latest is not null ? 1 : 0) - (wasLive ? 1 : 0);
        _signal.Writer.TryWrite(true);
    }

    /// <summary>
    /// Before the bus hands this replica's events back to RabbitMQ (and another replica takes over): let the write
    /// in flight finish, start no other, and give every unsettled event back unacknowledged. When the host's
    /// shutdown time runs out first, the write is cancelled — its request aborted — before the events go back, so
    /// it cannot land after the next replica's (#13 defect 4).
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
            await _abort.CancelAsync().ConfigureAwait(false);
            // The round ends once the request is aborted (HttpClient cancels it at once).
            await writing.WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        lock (_sync)
        {
            foreach (var state in _keys.Values)
            {
                foreach (var waiter in state.Holders) waiter.Release();
                foreach (var waiter in state.Pending?.Waiters ?? []) waiter.Release();
                foreach (var waiter in state.InFlight?.Waiters ?? []) waiter.Release();
            }
        }
    }

    private string Display(string key) => key.Replace(Separator, ',');
}
