using FlashdutySync.Check;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Tests.Check;

public sealed class KeySpellingTests
{
    private static ListedRow Row(string key, string host, string? env = null)
    {
        var fields = new Dictionary<string, string> { ["host"] = host, ["owner"] = "alice" };
        if (env is not null) fields["env"] = env;
        return new ListedRow(key, fields);
    }

    [Fact]
    public void Of_OneLabelKeyEqualToTheValue_IsTheSourceValue() => Assert.Equal("the source value", KeySpelling.Of(["host"], Row("web-1", "web-1")));

    [Theory]
    [InlineData("web-1,prod", "the source values joined by ','")]
    [InlineData("web-1|prod", "the source values joined by '|'")]
    [InlineData("web-1\u001fprod", "the source values joined by U+001F")]
    [InlineData("web-1prod", "the source values joined by nothing (concatenated)")]
    [InlineData("6650e1c2a1b2c3d4e5f60718", KeySpelling.Opaque)]
    public void Of_TwoLabelKey_NamesTheSeparatorOrSaysOpaque(string key, string expected) =>
        Assert.Equal(expected, KeySpelling.Of(["host", "env"], Row(key, "web-1", "prod")));

    [Fact]
    public void Of_RowsSpelledDifferently_SaysMixed() =>
        Assert.StartsWith("mixed: ", KeySpelling.Of(["host"], [Row("web-1", "web-1"), Row("k2", "web-2")]), StringComparison.Ordinal);

    [Fact]
    public void Of_NoRows_IsNull() => Assert.Null(KeySpelling.Of(["host"], Array.Empty<ListedRow>()));
}
