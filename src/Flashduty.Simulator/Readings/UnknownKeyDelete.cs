using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>What <c>data/delete</c> does with a key that names no row (not documented).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<UnknownKeyDelete>))]
public enum UnknownKeyDelete
{
    /// <summary>200; the other keys are deleted.</summary>
    Ignore,

    /// <summary>400 <c>InvalidParameter</c> naming the key; nothing is deleted.</summary>
    Refuse,
}
