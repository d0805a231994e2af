namespace FlashdutySync.Flashduty;

/// <summary>What a failed call means for the caller, decided by Flashduty's error code first and the HTTP status second.</summary>
public enum FlashdutyErrorKind
{
    /// <summary>No answer, a time-out, a 5xx, <c>InternalError</c>, <c>ServiceUnavailable</c>: try again later.</summary>
    Transient,

    /// <summary><c>RequestTooFrequently</c> or <c>RequestLocked</c> (whatever the status), 429, 423: try again with a fresh permit.</summary>
    Throttled,

    /// <summary><c>InvalidParameter</c>: a row or the request is wrong; the same body can never succeed.</summary>
    InvalidRequest,

    /// <summary><c>EntityTooLarge</c> or 413: split the request.</summary>
    TooLarge,

    /// <summary><c>ResourceNotFound</c>: the schema (or row) does not exist.</summary>
    NotFound,

    /// <summary><c>Unauthorized</c> or 401: the app key is refused.</summary>
    Unauthorized,

    /// <summary><c>AccessDenied</c> or 403: the key lacks a permission.</summary>
    AccessDenied,

    /// <summary><c>NoLicense</c>: the account's plan lacks the feature.</summary>
    NoLicense,

    /// <summary>Any other refusal (another 4xx or code): pause and probe; an operator must look.</summary>
    Other,
}
