namespace FlashdutySync.Sync;

/// <summary>What became of one event's change to one row.</summary>
public sealed record KeyOutcome(OutcomeKind Kind, string? Reason = null, string? RequestId = null, string? ErrorCode = null)
{
    public static readonly KeyOutcome Applied = new(OutcomeKind.Applied);
    public static readonly KeyOutcome Released = new(OutcomeKind.Released);
}

public enum OutcomeKind
{
    /// <summary>Flashduty confirmed the row (or it needed no change).</summary>
    Applied,

    /// <summary>The row still misses labels: the event waits for the rest.</summary>
    Incomplete,

    /// <summary>Flashduty refused the row, or it can never be valid: the event is set aside.</summary>
    Rejected,

    /// <summary>This replica's term ended before the event was journaled: applied again in the next term, or given back when stopping.</summary>
    Released,

    /// <summary>The schema's rows cannot be read yet: the event waits in the wait queue, with no time limit.</summary>
    Deferred,
}
