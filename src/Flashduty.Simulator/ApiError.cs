namespace Flashduty.Simulator;

/// <summary>An answer that is not a success: the documented status and code with a message naming the problem.</summary>
internal sealed class ApiError(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;

    public static ApiError Invalid(string message) => new(400, "InvalidParameter", message);
    public static ApiError TooFrequent(string message) => new(429, "RequestTooFrequently", message);
    public static ApiError NoRoute(string message) => new(404, "RouteNotFound", message);

    /// <summary>A write refused because another request holds the schema's lock, as the reading says.</summary>
    public static ApiError Locked(LockConflict reading, string message) => reading == LockConflict.Locked423
        ? new ApiError(423, "RequestLocked", message)
        : TooFrequent(message);

    /// <summary>A data call on a schema id that does not exist, as the reading says.</summary>
    public static ApiError MissingSchema(MissingSchemaCode reading, string message) => reading == MissingSchemaCode.ResourceNotFound
        ? new ApiError(400, "ResourceNotFound", message)
        : Invalid(message);
}

/// <summary>What a handler answers: <c>data</c> for the success envelope, the number of docs/keys it carried, and the schema.</summary>
internal sealed record ApiResult(object? Data, string? SchemaId = null, int Count = 0);
