using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Reconcile;

/// <summary>Who may call <c>POST /reconcile</c>; section <c>Reconcile</c> (environment <c>Reconcile__Token</c>).</summary>
public sealed class ReconcileOptions
{
    public const string SectionName = "Reconcile";

    /// <summary>The environment variable the service and the <c>reconcile</c> verb both read the token from.</summary>
    public const string TokenVariable = "Reconcile__Token";

    /// <summary>
    /// The bearer token <c>POST /reconcile</c> requires. Default: none, and then the endpoint refuses every call (403):
    /// each call costs a download per schema against the account's budget, and the health port is reachable by anyone
    /// who reaches the pod. At least 32 characters (<c>openssl rand -hex 32</c>); a secret: never logged.
    /// </summary>
    [MinLength(32, ErrorMessage = "Reconcile:Token (environment Reconcile__Token) is shorter than 32 characters: use a random one, e.g. `openssl rand -hex 32`, or leave it unset to turn POST /reconcile off")]
    public string? Token { get; set; }
}

[OptionsValidator]
public sealed partial class ReconcileOptionsValidator : IValidateOptions<ReconcileOptions>;
