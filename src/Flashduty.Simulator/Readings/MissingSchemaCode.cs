using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>What a <c>data/*</c> call on a well-formed schema id that does not exist answers.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MissingSchemaCode>))]
public enum MissingSchemaCode
{
    /// <summary>400 <c>InvalidParameter</c>: indistinguishable from a bad row.</summary>
    InvalidParameter,

    /// <summary>400 <c>ResourceNotFound</c>.</summary>
    ResourceNotFound,
}
