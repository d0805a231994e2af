using FlashdutySync.Messaging;

namespace FlashdutySync.Tests.Messaging;

/// <summary>When the journal merges its tail into a new snapshot: total merge work stays proportional to what is appended.</summary>
public sealed class JournalCompactionPolicyTests
{
    private const long MB = 1 << 20;

    [Theory]
    [InlineData(255, 1 * MB, 0, false)] // a small tail over an empty snapshot: not yet
    [InlineData(256, 1 * MB, 0, true)] // 256 records
    [InlineData(10, 16 * MB, 0, false)]
    [InlineData(10, 64 * MB, 0, true)] // or 64 MB
    [InlineData(256, 1 * MB, 64 * MB, false)] // a 64 MB snapshot is not rewritten for a 1 MB tail
    [InlineData(300, 63 * MB, 64 * MB, false)]
    [InlineData(300, 64 * MB, 64 * MB, true)] // the snapshot's size
    [InlineData(8192, 1 * MB, 64 * MB, true)] // the tail never passes 8,192 records: a load reads them one by one
    public void Compacts_OnceTheTailIsWorthIt(int appends, long bytes, long mergedBytes, bool expected) =>
        Assert.Equal(expected, RabbitMqRowJournal.WorthCompacting(appends, bytes, mergedBytes));
}
