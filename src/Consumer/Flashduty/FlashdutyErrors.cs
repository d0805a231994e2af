namespace FlashdutySync.Flashduty;

/// <summary>
/// Classifies Flashduty's answers. The reference calls the error code authoritative and the HTTP status
/// informational (a missing schema is a 400 <c>ResourceNotFound</c>, a locked one may be 423 or 429), so the
/// code decides when it is known and the status only when it is not.
/// </summary>
public static class FlashdutyErrors
{
    public static FlashdutyErrorKind Classify(int status, string? code) => code switch
    {
        "RequestTooFrequently" or "RequestLocked" => FlashdutyErrorKind.Throttled,
        "InternalError" or "ServiceUnavailable" => FlashdutyErrorKind.Transient,
        "InvalidParameter" => FlashdutyErrorKind.InvalidRequest,
        "EntityTooLarge" => FlashdutyErrorKind.TooLarge,
        "ResourceNotFound" => FlashdutyErrorKind.NotFound,
        "Unauthorized" => FlashdutyErrorKind.Unauthorized,
        "AccessDenied" => FlashdutyErrorKind.AccessDenied,
        "NoLicense" => FlashdutyErrorKind.NoLicense,
        "InvalidContentType" or "BadRequest" or "RouteNotFound" or "MethodNotAllowed" or "ReferenceExist" or "DangerousOperation"
            or "RequestVerifyRequired" => FlashdutyErrorKind.Other,
        _ => ByStatus(status),
    };

    /// <summary>Worth the same request again: throttling and passing failures.</summary>
    public static bool IsRetryable(FlashdutyErrorKind kind) => kind is FlashdutyErrorKind.Transient or FlashdutyErrorKind.Throttled;

    /// <summary>What an operator must do, for the refusals that stop every write until someone acts; null for the others.</summary>
    public static string? OperatorAction(FlashdutyErrorKind kind, string? code) => kind switch
    {
        FlashdutyErrorKind.Unauthorized => "Flashduty refuses the app key (401): set a valid key in Flashduty__AppKey",
        FlashdutyErrorKind.AccessDenied =>
            "the app key lacks the \"Mappings Manage\" permission (403 AccessDenied): grant it to the key's account in Flashduty",
        FlashdutyErrorKind.NoLicense => "the Flashduty account's plan does not include enrichment mappings (NoLicense): upgrade the plan or ask Flashcat",
        FlashdutyErrorKind.Other => $"Flashduty refused the call with {code ?? "no error code"}, which the service does not expect; check Flashduty__BaseUrl and the service's version",
        _ => null,
    };

    // An unknown code (or none: a proxy's page) falls back on the status. A 400 without a known code is not taken
    // for a bad row: isolating rows on a proxy's error would set good events aside.
    private static FlashdutyErrorKind ByStatus(int status) => status switch
    {
        0 or 408 or >= 500 => FlashdutyErrorKind.Transient,
        429 or 423 => FlashdutyErrorKind.Throttled,
        401 => FlashdutyErrorKind.Unauthorized,
        403 => FlashdutyErrorKind.AccessDenied,
        413 => FlashdutyErrorKind.TooLarge,
        _ => FlashdutyErrorKind.Other,
    };
}
