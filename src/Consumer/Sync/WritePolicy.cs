namespace FlashdutySync.Sync;

/// <summary>
/// Group commit of a schema's writes, as one pure function: write when the inflow is idle (nothing delivered is
/// unapplied and nothing arrived within the quiet period: at light load, at once), when a full request is pending
/// (1,000 docs) and the inflow is not revisiting its rows (see <see cref="Revisits"/>: rows changed once each, as in a
/// sync of many rows; in a burst over fewer hosts each row written early would be written again), or once the oldest
/// pending change is <see cref="SyncOptions.MaxWriteDelay"/> old. Events no longer wait for the write (the journal
/// holds them), so nothing else needs to hurry it.
/// </summary>
internal static class WritePolicy
{
    /// <summary>Docs in one upsert: Flashduty's limit.</summary>
    public const int FullRequest = 1000;

    /// <summary>
    /// Above this share of revisited changes the inflow is a burst over the same rows: a full request waits for the
    /// inflow to go idle (or <see cref="SyncOptions.MaxWriteDelay"/>). A burst over 5,000 hosts has revisited ~10% of
    /// its changes by the time its first 1,000 rows are pending; a sync of distinct rows, none.
    /// </summary>
    public const double RevisitingShare = 0.05;

    /// <summary>Zero: write now. Otherwise the longest wait before writing; an idle inflow or a full request end it sooner.</summary>
    public static TimeSpan Wait(int pendingDocs, TimeSpan oldestPendingAge, bool inflowIdle, TimeSpan maxWriteDelay, double revisitShare)
    {
        if (pendingDocs <= 0) return Timeout.InfiniteTimeSpan;
        if (inflowIdle || IsWorthAFullRequest(pendingDocs, revisitShare)) return TimeSpan.Zero;
        var left = maxWriteDelay - oldestPendingAge;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>A full request is pending and its rows are not being changed again and again.</summary>
    public static bool IsWorthAFullRequest(int pendingDocs, double revisitShare) => pendingDocs >= FullRequest && revisitShare <= RevisitingShare;
}
