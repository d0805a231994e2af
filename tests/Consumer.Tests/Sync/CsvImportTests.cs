using InventoryPublisher;

namespace FlashdutySync.Tests.Sync;

public sealed class CsvImportTests
{
    [Fact]
    public void Rows_BecomeHostProvisioned_WithExtraColumnsAsLabels_AndQuotedCommasKept()
    {
        var csv = "host,owner,team,service,rack\nweb-1,\"Doe, J\",sre,api,r1\nweb-2,bob,,db,\n";
        var events = CsvImport.Read(new StringReader(csv), DateTimeOffset.UnixEpoch).ToList();

        Assert.Equal(2, events.Count);
        Assert.Equal("Doe, J", events[0].Owner);
        Assert.Equal("r1", events[0].Labels!["rack"]);
        Assert.Null(events[1].Team);
        Assert.Null(events[1].Labels);
    }

    [Fact]
    public void MissingHostColumnOrValue_IsAClearError()
    {
        Assert.Contains("no 'host' column", Assert.Throws<InvalidDataException>(() => CsvImport.Read(new StringReader("name,owner\na,b\n"), default).ToList()).Message);
        Assert.Contains("line 2: 'host' is empty", Assert.Throws<InvalidDataException>(() => CsvImport.Read(new StringReader("host,owner\n,b\n"), default).ToList()).Message);
    }
}
