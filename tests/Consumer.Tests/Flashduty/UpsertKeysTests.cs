using FlashdutySync.Sync;

namespace FlashdutySync.Tests.Flashduty;

/// <summary>data/upsert's keys are used only when the answer as a whole proves which key is whose.</summary>
public sealed class UpsertKeysTests
{
    private static IReadOnlyDictionary<string, string> Doc(string host, string env = "prod") => new Dictionary<string, string> { ["host"] = host, ["env"] = env };

    [Fact]
    public void OneLabel_KeysInAnotherOrder_AreMatchedByValue() =>
        Assert.Equal(["a", "b", "c"], UpsertKeys.Match(["host"], [Doc("a"), Doc("b"), Doc("c")], ["c", "a", "b"])!);

    [Fact]
    public void OneLabel_KeysThatAreNotTheValues_AreNotUsed() => Assert.Null(UpsertKeys.Match(["host"], [Doc("a"), Doc("b")], ["k1", "k2"]));

    [Fact]
    public void CountThatDiffers_IsNotUsed() => Assert.Null(UpsertKeys.Match(["host"], [Doc("a"), Doc("b")], ["a"]));

    [Theory]
    [InlineData(",")]
    [InlineData("|")]
    [InlineData("")]
    public void TwoLabels_KeysJoinedByOneSeparator_AreMatchedInAnyOrder(string separator) =>
        Assert.Equal([$"a{separator}prod", $"b{separator}dev"],
            UpsertKeys.Match(["host", "env"], [Doc("a"), Doc("b", "dev")], [$"b{separator}dev", $"a{separator}prod"])!);

    [Fact]
    public void TwoLabels_OpaqueKeys_AreNotUsed() =>
        Assert.Null(UpsertKeys.Match(["host", "env"], [Doc("a"), Doc("b")], ["5f1c0e", "9a77d2"]));
}
