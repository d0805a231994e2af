using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>How the 2,048 limit on a value is counted (the reference said 512 bytes once, 2,048 characters now).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ValueLimitUnit>))]
public enum ValueLimitUnit
{
    /// <summary>Unicode characters (scalar values, as Go counts runes): '漢' is one.</summary>
    Characters,

    /// <summary>Bytes of the value's UTF-8 encoding: '漢' is three.</summary>
    Utf8Bytes,
}
