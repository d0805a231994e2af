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

    /// <summary>What the failure means, by code first and status second (see <see cref="FlashdutyErrors"/>).</summary>
    public FlashdutyErrorKind Kind { get; } = FlashdutyErrors.Classify(status, code);

    /// <summary>Worth trying again later: throttling, server errors, no answer.</summary>
    public bool IsTransient => FlashdutyErrors.IsRetryable(Kind);
}
