using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>The order of <c>data/upsert</c>'s <c>data.keys</c>, which the reference does not state.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<KeyOrder>))]
public enum KeyOrder
{
    /// <summary>The keys in the order of the docs.</summary>
    Docs,

    /// <summary>A random permutation of the keys.</summary>
    Shuffled,
}
