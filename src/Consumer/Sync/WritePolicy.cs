namespace FlashdutySync.Sync;

/// <summary>
/// Group commit of a schema's writes, as one pure function: write when the inflow is idle (nothing delivered is
/// unapplied and nothing arrived within the quiet period: at light load, at once), when a full request is pending
/// (1,000 docs), or once the oldest pending change is <see cref="SyncOptions.MaxWriteDelay"/> old. Events no longer
/// wait for the write (the journal holds them), so nothing else needs to hurry it.
/// </summary>
internal static class WritePolicy
{
    /// <summary>Docs in one upsert: Flashduty's limit.</summary>
    public const int FullRequest = 1000;

    /// <summary>Zero: write now. Otherwise the longest wait before writing; an idle inflow or a full request end it sooner.</summary>
    public static TimeSpan Wait(int pendingDocs, TimeSpan oldestPendingAge, bool inflowIdle, TimeSpan maxWriteDelay)
    {
        if (pendingDocs <= 0) return Timeout.InfiniteTimeSpan;
        if (pendingDocs >= FullRequest || inflowIdle) return TimeSpan.Zero;
        var left = maxWriteDelay - oldestPendingAge;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
