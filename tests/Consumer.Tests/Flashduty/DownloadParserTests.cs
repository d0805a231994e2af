using System.Text;
using System.Text.Json;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Tests.Flashduty;

/// <summary>data/download's answer in every shape the reference allows, and the shapes that must never pass for an empty schema.</summary>
public sealed class DownloadParserTests
{
    private static readonly string[] Labels = ["host", "owner", "team"];
    private const string Csv = "host,owner,team\r\nweb-1,alice,sre\r\n\"db,2\",\"bob \"\"the\"\" dba\",\"multi\nline\"\r\n";

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static void AssertRows(SchemaRows? rows)
    {
        Assert.NotNull(rows);
        Assert.Equal(2, rows.Rows.Count);
        Assert.Equal(new Dictionary<string, string> { ["host"] = "web-1", ["owner"] = "alice", ["team"] = "sre" }, rows.Rows[0]);
        Assert.Equal(new Dictionary<string, string> { ["host"] = "db,2", ["owner"] = "bob \"the\" dba", ["team"] = "multi\nline" }, rows.Rows[1]);
    }

    [Theory]
    [InlineData("text/csv; charset=utf-8")]
    [InlineData("application/octet-stream")]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    [InlineData(null)]
    public void RawCsv_AnyNonJsonType_IsRead(string? contentType)
    {
        var rows = DownloadParser.Parse(Utf8(Csv), contentType, Labels);
        AssertRows(rows);
        Assert.Contains("raw CSV", rows!.Format);
        Assert.Contains("CRLF", rows.Format);
    }

    [Fact]
    public void RawCsv_WithBomAndLfLineEnds_IsRead()
    {
        var rows = DownloadParser.Parse([.. Encoding.UTF8.Preamble, .. Utf8(Csv.Replace("\r\n", "\n", StringComparison.Ordinal))], "text/csv", Labels);
        AssertRows(rows);
        Assert.Contains("BOM", rows!.Format);
        Assert.Contains("LF", rows.Format);
    }

    [Fact]
    public void Envelope_WithCsvText_IsRead()
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { request_id = "r1", data = Csv });
        var rows = DownloadParser.Parse(body, "application/json", Labels);
        AssertRows(rows);
        Assert.Contains("envelope", rows!.Format);
    }

    [Fact]
    public void Envelope_WhoseCsvHasABom_IsRead() =>
        AssertRows(DownloadParser.Parse(JsonSerializer.SerializeToUtf8Bytes(new { request_id = "r1", data = "\uFEFF" + Csv }), "application/json", Labels));

    [Fact]
    public void HeaderInAnotherOrder_WithAnExtraColumn_IsMappedByName()
    {
        var rows = DownloadParser.Parse(Utf8("team,key,host,owner\nsre,k1,web-1,alice\n"), "text/csv", Labels);
        Assert.Equal(new Dictionary<string, string> { ["host"] = "web-1", ["owner"] = "alice", ["team"] = "sre" }, Assert.Single(rows!.Rows));
    }

    [Fact]
    public void HeaderOnly_IsAnEmptySchema() => Assert.Empty(DownloadParser.Parse(Utf8("host,owner,team\r\n"), "text/csv", Labels)!.Rows);

    [Theory]
    [InlineData("")]
    [InlineData("  \r\n")]
    public void EmptyBody_IsNotTakenForAnEmptySchema_ButLeftToTheCaller(string body) => Assert.Null(DownloadParser.Parse(Utf8(body), "text/csv", Labels));

    [Fact]
    public void HeaderLackingALabel_IsAnErrorNamingTheLabelAndTheHeader()
    {
        var ex = Assert.Throws<DownloadFormatException>(() => DownloadParser.Parse(Utf8("host,owner\nweb-1,alice\n"), "text/csv", Labels));
        Assert.Contains("team", ex.Message);
        Assert.Contains("'host,owner'", ex.Message);
    }

    [Theory]
    [InlineData("{\"request_id\":\"r\",\"data\":null}", "application/json", "data is null")]
    [InlineData("{\"request_id\":\"r\",\"data\":{\"rows\":[]}}", "application/json", "data is object")]
    [InlineData("{\"request_id\":\"r\"}", "application/json", "without data")]
    [InlineData("<html><body>Bad gateway</body></html>", "text/html", "text/html")]
    [InlineData("{not json", "application/json", "neither JSON nor CSV")]
    [InlineData("not,the,labels\na,b,c\n", "application/json", "lacks the schema's label")]
    public void AnswerInNoKnownShape_IsAnErrorThatSaysWhatCameBack(string body, string contentType, string said)
    {
        var ex = Assert.Throws<DownloadFormatException>(() => DownloadParser.Parse(Utf8(body), contentType, Labels));
        Assert.Contains(said, ex.Message);
    }

    [Fact]
    public void RowWithTooFewFields_IsAnErrorNamingTheRow()
    {
        var ex = Assert.Throws<DownloadFormatException>(() => DownloadParser.Parse(Utf8("host,owner,team\nweb-1,alice,sre\nweb-2,bob\n"), "text/csv", Labels));
        Assert.Contains("row 3", ex.Message);
    }

    [Fact]
    public void BytesThatAreNotUtf8_AreAnError() =>
        Assert.Throws<DownloadFormatException>(() => DownloadParser.Parse([0x68, 0x6f, 0x73, 0x74, 0x0a, 0xff, 0xfe, 0x0a], "application/octet-stream", Labels));
}
