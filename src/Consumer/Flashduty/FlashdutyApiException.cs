namespace FlashdutySync.Flashduty;

/// <summary>Flashduty answered with an error (or not at all). The message never holds the URL or the key.</summary>
public sealed class FlashdutyApiException(string endpoint, int status, string? code, string message, string? requestId, Exception? inner = null)
    : Exception($"Flashduty {endpoint} failed: {(status == 0 ? "no answer" : status.ToString(System.Globalization.CultureInfo.InvariantCulture))} {code} {message} (request_id {requestId ?? "none"})", inner)
{
    public string Endpoint { get; } = endpoint;

    /// <summary>HTTP status; 0 when no answer came (time-out, reset).</summary>
    public int Status { get; } = status;

    public string? Code { get; } = code;
    public string ErrorMessage { get; } = message;
    public string? RequestId { get; } = requestId;

    /// <summary>The request itself is wrong: retrying the same body can never succeed.</summary>
    public bool IsInvalidParameter => Status == 400 && Code is "InvalidParameter" or null;

    /// <summary>The key is refused (401) or lacks the permission (403): nothing will succeed until an operator acts.</summary>
    public bool IsAuthFailure => Status is 401 or 403;

    /// <summary>Worth trying again later: throttling, server errors, no answer.</summary>
    public bool IsTransient => Status is 0 or 408 or 429 or >= 500;
}
