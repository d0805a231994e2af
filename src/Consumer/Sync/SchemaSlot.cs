using System.Diagnostics;

namespace FlashdutySync.Sync;

/// <summary>
/// A configured schema id and, once its labels and rows are read, its <see cref="SchemaSync"/>. Until then the
/// events applied to it wait here, unsettled (their batches hold them in RabbitMQ), and are applied in order the
/// moment it loads: an event is never acknowledged against a schema whose rows are unknown.
/// </summary>
internal sealed class SchemaSlot(string schemaId)
{
    /// <summary>
    /// Events held for a schema that cannot be read. Batches give their events back after Sync:HoldLimit, and each
    /// redelivery waits here again: past this many, events are given back at once (memory stays bounded).
    /// </summary>
    private const int MaxWaiting = 20_000;

    private readonly object _sync = new();
    private List<(InventoryEvent Event, ActivityContext Batch, TaskCompletionSource<KeyOutcome> Done)> _waiting = [];
    private bool _released;

    public string SchemaId { get; } = schemaId;

    /// <summary>The loaded schema, or null while it could not be read.</summary>
    public SchemaSync? Sync { get; private set; }

    /// <summary>Why it is not loaded yet, or null.</summary>
    public string? LoadProblem { get; set; } = "not loaded yet";

    public Task<KeyOutcome>? Apply(InventoryEvent e, ActivityContext batch)
    {
        if (Sync is { } loaded) return loaded.Apply(e, batch);
        lock (_sync)
        {
            if (Sync is { } justLoaded) return justLoaded.Apply(e, batch);
            if (_released || _waiting.Count >= MaxWaiting) return Task.FromResult(KeyOutcome.Released);
            var done = new TaskCompletionSource<KeyOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Add((e, batch, done));
            return done.Task;
        }
    }

    /// <summary>
    /// Takes the loaded schema and applies, in arrival order, what waited for it. False when the service is stopping
    /// meanwhile: the schema must then not write (another replica may have taken over).
    /// </summary>
    public bool Loaded(SchemaSync sync)
    {
        lock (_sync)
        {
            if (_released) return false;
            foreach (var (e, batch, done) in _waiting)
            {
                if (sync.Apply(e, batch) is { } outcome)
                    _ = outcome.ContinueWith(t => done.TrySetResult(t.IsCompletedSuccessfully ? t.Result : KeyOutcome.Released), TaskScheduler.Default);
                else done.TrySetResult(KeyOutcome.Applied);
            }

            _waiting = [];
            LoadProblem = null;
            Sync = sync;
            return true;
        }
    }

    /// <summary>The service is stopping: what still waits goes back to the queue.</summary>
    public void Release()
    {
        lock (_sync)
        {
            _released = true;
            foreach (var (_, _, done) in _waiting) done.TrySetResult(KeyOutcome.Released);
            _waiting = [];
        }
    }
}
