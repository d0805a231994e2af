using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace FlashdutySync.Reconcile;

/// <summary>
/// Whether a <c>POST /reconcile</c> may run: a pure decision from the configured token and the request's
/// <c>Authorization</c> header. Reasons name what is missing or wrong, never a token.
/// </summary>
public static class ReconcileAccess
{
    public readonly record struct Decision(int Status, string? Reason)
    {
        public bool Allowed => Reason is null;
    }

    public static Decision Decide(string? configuredToken, string? authorization)
    {
        if (string.IsNullOrEmpty(configuredToken))
            return new(StatusCodes.Status403Forbidden,
                $"POST /reconcile is turned off on this replica: {ReconcileOptions.TokenVariable} is not set. Set it (from a Secret) and send the same token as 'Authorization: Bearer <token>' (the reconcile command reads {ReconcileOptions.TokenVariable} or --token-file)");
        if (!AuthenticationHeaderValue.TryParse(authorization, out var header) || !header.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) ||
            string.IsNullOrWhiteSpace(header.Parameter))
            return new(StatusCodes.Status401Unauthorized,
                $"POST /reconcile needs the token of {ReconcileOptions.TokenVariable} as 'Authorization: Bearer <token>'; the request has {(authorization is null ? "no Authorization header" : "no bearer token in its Authorization header")}");
        return Matches(configuredToken, header.Parameter)
            ? new(StatusCodes.Status200OK, null)
            : new(StatusCodes.Status403Forbidden, $"the bearer token does not match {ReconcileOptions.TokenVariable} on this replica");
    }

    // Both hashed first, so that neither the comparison's time nor a length check tells how much of a guess was right.
    private static bool Matches(string configured, string presented) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}
