using FlashdutySync.Reconcile;
using Microsoft.AspNetCore.Http;

namespace FlashdutySync.Tests.Reconcile;

/// <summary>Who may call POST /reconcile: the decision alone, and the token's validation; no reason ever holds a token.</summary>
public sealed class ReconcileAccessTests
{
    private const string Token = "5f0c7a9e1b2d4c6e8f0a1b3c5d7e9f10";

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void NoTokenConfigured_RefusesEveryCall_403_NamingTheSetting(string? configured)
    {
        var decision = ReconcileAccess.Decide(configured, $"Bearer {Token}");
        Assert.False(decision.Allowed);
        Assert.Equal(StatusCodes.Status403Forbidden, decision.Status);
        Assert.Contains("turned off", decision.Reason);
        Assert.Contains("Reconcile__Token is not set", decision.Reason);
        Assert.DoesNotContain(Token, decision.Reason);
    }

    [Theory]
    [InlineData(null, "no Authorization header")]
    [InlineData("Basic dXNlcjpwYXNz", "no bearer token in its Authorization header")]
    [InlineData("Bearer", "no bearer token in its Authorization header")]
    [InlineData("Bearer   ", "no bearer token in its Authorization header")]
    public void ATokenConfigured_AndNoneSent_Is401_SayingWhatIsMissing(string? authorization, string missing)
    {
        var decision = ReconcileAccess.Decide(Token, authorization);
        Assert.Equal(StatusCodes.Status401Unauthorized, decision.Status);
        Assert.Contains("Authorization: Bearer <token>", decision.Reason);
        Assert.Contains(missing, decision.Reason);
        Assert.DoesNotContain(Token, decision.Reason);
    }

    [Theory]
    [InlineData("Bearer 5f0c7a9e1b2d4c6e8f0a1b3c5d7e9f11")] // one character off
    [InlineData("Bearer 5f0c7a9e1b2d4c6e8f0a1b3c5d7e9f10x")] // a prefix of it is the token
    [InlineData("Bearer 5f0c")]
    public void AnotherToken_Is403_AndTheReasonEchoesNeither(string authorization)
    {
        var decision = ReconcileAccess.Decide(Token, authorization);
        Assert.Equal(StatusCodes.Status403Forbidden, decision.Status);
        Assert.Equal("the bearer token does not match Reconcile__Token on this replica", decision.Reason);
    }

    [Theory]
    [InlineData("Bearer " + Token)]
    [InlineData("bearer " + Token)]
    public void TheConfiguredToken_IsAllowed(string authorization)
    {
        var decision = ReconcileAccess.Decide(Token, authorization);
        Assert.True(decision.Allowed);
        Assert.Null(decision.Reason);
    }

    [Fact]
    public void AShortToken_FailsValidation_NamingTheSetting_WithoutTheValue()
    {
        const string weak = "letmein-reconcile";
        var result = new ReconcileOptionsValidator().Validate(null, new ReconcileOptions { Token = weak });
        Assert.True(result.Failed);
        Assert.Contains("Reconcile__Token", result.FailureMessage);
        Assert.Contains("32 characters", result.FailureMessage);
        Assert.DoesNotContain(weak, result.FailureMessage);
        Assert.True(new ReconcileOptionsValidator().Validate(null, new ReconcileOptions()).Succeeded); // unset: the endpoint is off
        Assert.True(new ReconcileOptionsValidator().Validate(null, new ReconcileOptions { Token = Token }).Succeeded);
    }
}
