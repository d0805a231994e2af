using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>How a write to a schema that another request is writing is refused (the status is not documented).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LockConflict>))]
public enum LockConflict
{
    /// <summary>429 <c>RequestTooFrequently</c>.</summary>
    TooFrequently429,

    /// <summary>423 <c>RequestLocked</c>.</summary>
    Locked423,
}
