using System.Diagnostics;

namespace FlashdutySync.Sync;

/// <summary>Everything the service knows of one row key of one schema. Guarded by its schema's lock.</summary>
internal sealed class KeyState(string key)
{
    public string Key { get; } = key;

    /// <summary>Per label: the value (null once a delete cleared it) and when the event that set it occurred.</summary>
    public Dictionary<string, Stamped> Labels { get; } = new(StringComparer.Ordinal);

    /// <summary>When the host was last decommissioned; older events may not bring the row back.</summary>
    public DateTimeOffset? DeletedAt { get; set; }

    /// <summary>When this service learnt of <see cref="DeletedAt"/> (its own clock): the row is forgotten only a retention after that (see SchemaSync.Forget).</summary>
    public DateTimeOffset? DeletedSeen { get; set; }

    /// <summary>The row Flashduty holds, as far as the service knows; null: no row.</summary>
    public IReadOnlyDictionary<string, string>? Confirmed { get; set; }

    /// <summary>The key Flashduty spells for the row, learnt from an upsert's answer.</summary>
    public string? RemoteKey { get; set; }

    public Write? Pending { get; set; }
    public Write? InFlight { get; set; }

    /// <summary>Copies of the events applied since the row was last journaled.</summary>
    public List<EventCopy> Unjournaled { get; } = [];

    /// <summary>A write landed since the row was last journaled: its next record replaces the row's event copies.</summary>
    public bool CopiesSettled { get; set; }

    /// <summary>When an event last changed the row (a <see cref="TimeProvider"/> timestamp; 0: never): see <see cref="Revisits"/>.</summary>
    public long LastChange { get; set; }

    /// <summary>The queued write repairs drift (counted when it lands).</summary>
    public RepairKind Repair { get; set; }

    /// <summary>The row Flashduty will hold once everything queued is written.</summary>
    public IReadOnlyDictionary<string, string>? Latest => Pending is { } p ? p.Target : InFlight is { } f ? f.Target : Confirmed;
}

internal readonly record struct Stamped(string? Value, DateTimeOffset At);

/// <summary>A row write (an upsert, or a delete when <see cref="Target"/> is null) and the events waiting on it.</summary>
internal sealed class Write(IReadOnlyDictionary<string, string>? target)
{
    public IReadOnlyDictionary<string, string>? Target { get; set; } = target;
    public List<Waiter> Waiters { get; } = [];
}

/// <summary>
/// One event's change to a row, acknowledged (the journal holds it) but not written yet: completed with the outcome
/// once Flashduty answers. Its copy goes to the error queue should Flashduty refuse the row.
/// </summary>
internal sealed class Waiter(ActivityContext batch, DateTimeOffset occurredAt, EventCopy? copy, IReadOnlySet<string>? contributed = null)
{
    /// <summary>The labels this event set; null: unknown (read back from the journal), treated as all of them.</summary>
    public IReadOnlySet<string>? Contributed { get; } = contributed;

    private readonly TaskCompletionSource<KeyOutcome> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ActivityContext Batch { get; } = batch;
    public DateTimeOffset OccurredAt { get; } = occurredAt;
    public EventCopy? Copy { get; } = copy;

    public Task<KeyOutcome> Task => _done.Task;

    public bool Complete(KeyOutcome outcome) => _done.TrySetResult(outcome);
}
