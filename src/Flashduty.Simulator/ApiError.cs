namespace Flashduty.Simulator;

/// <summary>An answer that is not a success: the documented status and code with a message naming the problem.</summary>
internal sealed class ApiError(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;

    public static ApiError Invalid(string message) => new(400, "InvalidParameter", message);
    public static ApiError TooFrequent(string message) => new(429, "RequestTooFrequently", message);
}

/// <summary>What a handler answers: <c>data</c> for the success envelope, the number of docs/keys it carried, and the schema.</summary>
internal sealed record ApiResult(object? Data, string? SchemaId = null, int Count = 0);
