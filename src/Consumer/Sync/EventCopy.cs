namespace FlashdutySync.Sync;

/// <summary>
/// What the service keeps of an acknowledged event whose row is not written yet: enough to put it in the error queue,
/// body and headers as the publisher sent them, should Flashduty refuse the row later. Kept in the row journal.
/// </summary>
public sealed record EventCopy(string EventType, string? MessageId, string? ContentType, byte[] Body, IReadOnlyDictionary<string, string> Headers,
    string? InputAddress, DateTimeOffset OccurredAt, string Description)
{
    /// <summary>Tells two copies of one event apart from two events (a redelivery is journaled twice).</summary>
    public string Identity => MessageId ?? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Body), 0, 12);
}
