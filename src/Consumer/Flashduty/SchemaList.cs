namespace FlashdutySync.Flashduty;

/// <summary>What <c>schema/list</c> answered; <see cref="Total"/> may exceed the items when the list is paged.</summary>
public sealed record SchemaList(IReadOnlyList<SchemaInfo> Items, long Total);
