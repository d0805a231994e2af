using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>How the key of a row made of 2–3 source values is spelled; a one-label schema's key is always its value.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<KeySpelling>))]
public enum KeySpelling
{
    /// <summary>The source values in the schema's order, joined by ','.</summary>
    Comma,

    /// <summary>An opaque key: lowercase hex of the first 12 bytes of SHA-256 of the source values joined by U+001F.</summary>
    Hash,
}
