namespace FlashdutySync.Sync;

/// <summary>
/// Whether the events coming in keep changing the same rows: of the row changes since the schema's last write, the
/// share that changed a row already changed within the window (<see cref="SyncOptions.MaxWriteDelay"/>). A burst
/// or a backlog over a few thousand hosts revisits its rows again and again: a full request written early is written
/// again a moment later. A sync of many rows, each changed once, revisits none: its full requests may go at once.
/// Under the schema's lock.
/// </summary>
internal sealed class Revisits(TimeProvider time, TimeSpan window)
{
    private int _changes;
    private int _revisits;

    /// <summary>Revisited changes ÷ changes since the last write; 0 before any change.</summary>
    public double Share => _changes == 0 ? 0 : (double)_revisits / _changes;

    public void Changed(KeyState state)
    {
        var now = time.GetTimestamp();
        _changes++;
        if (state.LastChange != 0 && time.GetElapsedTime(state.LastChange, now) < window) _revisits++;
        state.LastChange = now;
    }

    /// <summary>A write was taken: what follows is judged on its own.</summary>
    public void Written() => _changes = _revisits = 0;
}
