namespace FlashdutySync.Flashduty;

/// <summary>A schema's rows as <c>data/download</c> gave them, and how the answer was shaped (for logs and <c>check</c>).</summary>
public sealed record SchemaRows(IReadOnlyList<Dictionary<string, string>> Rows, string Format);
