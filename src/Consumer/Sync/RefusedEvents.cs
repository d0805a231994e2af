namespace FlashdutySync.Sync;

/// <summary>
/// Where the events behind a row Flashduty refused go, with the reason: the error queue (see
/// <c>MessageRerouter</c>). Their batches were acknowledged long before, once the journal held them.
/// </summary>
public interface IRefusedEvents
{
    /// <summary>Returns once the event is durable in the error queue.</summary>
    Task SetAsideAsync(EventCopy copy, string schemaId, KeyOutcome outcome, CancellationToken ct);
}

/// <summary>Drops them: for tests that look at outcomes, not at the error queue.</summary>
public sealed class DiscardRefusedEvents : IRefusedEvents
{
    public static readonly DiscardRefusedEvents Instance = new();

    public Task SetAsideAsync(EventCopy copy, string schemaId, KeyOutcome outcome, CancellationToken ct) => Task.CompletedTask;
}
