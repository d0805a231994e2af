using FlashdutySync.Flashduty;

namespace FlashdutySync.Tests.Flashduty;

/// <summary>The code is authoritative, the status informational (the reference's words): classification by code first.</summary>
public sealed class FlashdutyErrorsTests
{
    [Theory]
    [InlineData(400, "ResourceNotFound", FlashdutyErrorKind.NotFound)]
    [InlineData(423, "RequestLocked", FlashdutyErrorKind.Throttled)]
    [InlineData(400, "RequestLocked", FlashdutyErrorKind.Throttled)]
    [InlineData(400, "RequestTooFrequently", FlashdutyErrorKind.Throttled)]
    [InlineData(200, "RequestTooFrequently", FlashdutyErrorKind.Throttled)]
    [InlineData(429, "RequestTooFrequently", FlashdutyErrorKind.Throttled)]
    [InlineData(413, "EntityTooLarge", FlashdutyErrorKind.TooLarge)]
    [InlineData(400, "NoLicense", FlashdutyErrorKind.NoLicense)]
    [InlineData(400, "InvalidParameter", FlashdutyErrorKind.InvalidRequest)]
    [InlineData(401, "Unauthorized", FlashdutyErrorKind.Unauthorized)]
    [InlineData(403, "AccessDenied", FlashdutyErrorKind.AccessDenied)]
    [InlineData(500, "InternalError", FlashdutyErrorKind.Transient)]
    [InlineData(503, "ServiceUnavailable", FlashdutyErrorKind.Transient)]
    [InlineData(400, "BadRequest", FlashdutyErrorKind.Other)]
    [InlineData(404, "RouteNotFound", FlashdutyErrorKind.Other)]
    [InlineData(428, "DangerousOperation", FlashdutyErrorKind.Other)]
    public void KnownCode_DecidesWhateverTheStatus(int status, string code, FlashdutyErrorKind expected) =>
        Assert.Equal(expected, FlashdutyErrors.Classify(status, code));

    [Theory]
    [InlineData(0, FlashdutyErrorKind.Transient)]
    [InlineData(502, FlashdutyErrorKind.Transient)]
    [InlineData(408, FlashdutyErrorKind.Transient)]
    [InlineData(429, FlashdutyErrorKind.Throttled)]
    [InlineData(423, FlashdutyErrorKind.Throttled)]
    [InlineData(401, FlashdutyErrorKind.Unauthorized)]
    [InlineData(403, FlashdutyErrorKind.AccessDenied)]
    [InlineData(413, FlashdutyErrorKind.TooLarge)]
    [InlineData(400, FlashdutyErrorKind.Other)]
    [InlineData(404, FlashdutyErrorKind.Other)]
    public void NoOrUnknownCode_FallsBackOnTheStatus(int status, FlashdutyErrorKind expected)
    {
        Assert.Equal(expected, FlashdutyErrors.Classify(status, null));
        Assert.Equal(expected, FlashdutyErrors.Classify(status, "SomethingNew"));
    }

    [Fact]
    public void OperatorAction_NamesWhatToFix_ForRefusalsThatStopEveryWrite()
    {
        Assert.Contains("Flashduty__AppKey", FlashdutyErrors.OperatorAction(FlashdutyErrorKind.Unauthorized, "Unauthorized"));
        Assert.Contains("Mappings Manage", FlashdutyErrors.OperatorAction(FlashdutyErrorKind.AccessDenied, "AccessDenied"));
        Assert.Contains("plan", FlashdutyErrors.OperatorAction(FlashdutyErrorKind.NoLicense, "NoLicense"));
        Assert.Contains("BadRequest", FlashdutyErrors.OperatorAction(FlashdutyErrorKind.Other, "BadRequest"));
        Assert.Null(FlashdutyErrors.OperatorAction(FlashdutyErrorKind.Transient, null));
    }
}
