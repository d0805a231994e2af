using System.Text;
using Flashduty.Simulator;
using InventoryPublisher;

namespace FlashdutySync.Tests.Simulator;

/// <summary>The Publisher's <c>rows</c> command reads <c>data/download</c> in every shape the reference allows.</summary>
public sealed class RowsReaderTests
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";

    [Theory]
    [InlineData(DownloadFormat.Envelope)]
    [InlineData(DownloadFormat.Csv)]
    [InlineData(DownloadFormat.CsvBom)]
    [InlineData(DownloadFormat.OctetStream)]
    public async Task RowsReader_EachDownloadFormat_PrintsEveryRowWithTheRequestId(DownloadFormat format)
    {
        await using var host = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = ["k-full"];
            o.Readings = new ApiReadings { DownloadFormat = format };
        });
        host.State.AddSchema(Schema, "host_owner", ["host"], ["owner"]);
        host.State.SeedRows(Schema, [
            new Dictionary<string, string> { ["host"] = "web-1", ["owner"] = "Doe, \"J\"" },
            new Dictionary<string, string> { ["host"] = "web-2", ["owner"] = "two\nlines" },
        ]);

        var (ok, text) = await RowsReader.DownloadAsync(host.BaseUrl, "k-full", Schema, CancellationToken.None);

        Assert.True(ok, text);
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal("host   owner", lines[0]);
        Assert.Equal("web-1  Doe, \"J\"", lines[2]);
        Assert.Equal("web-2  two\\nlines", lines[3]);
        Assert.Matches(@"^\(2 rows, request_id [0-9A-Z]{26}\)$", lines[4]);
    }

    [Fact]
    public async Task RowsReader_ErrorAnswer_IsAFailureWithTheCode()
    {
        await using var host = await SimulatorHost.StartAsync(o => o.AppKeys = ["k-full"]);

        var (ok, text) = await RowsReader.DownloadAsync(host.BaseUrl, "k-full", "665f1a2b3c4d5e6f7a8b9cff", CancellationToken.None);

        Assert.False(ok);
        Assert.Contains("HTTP 400 InvalidParameter", text);
    }

    [Theory]
    [InlineData("text/html", "<html>proxy error</html>", "text/html, not CSV")]
    [InlineData("text/csv", "", "no header row")]
    [InlineData("application/octet-stream", "\uFEFF", "no header row")]
    [InlineData("application/json", "{\"request_id\":\"x\",\"data\":null}", "no CSV text")]
    [InlineData("application/json", "{\"request_id\":\"x\",\"data\":\"\"}", "no header row")]
    [InlineData("application/json", "<html>", "says it is JSON but is not")]
    [InlineData(null, "{\"request_id\":\"x\",\"error\":{\"code\":\"InternalError\"}}", "an error: InternalError")]
    public void DownloadBody_AnswerThatIsNoDownloadShape_IsAnError_NeverAnEmptySchema(string? mediaType, string body, string reason)
    {
        var ex = Assert.Throws<InvalidDataException>(() => DownloadBody.CsvText(mediaType, Encoding.UTF8.GetBytes(body), out _));
        Assert.Contains(reason, ex.Message);
    }

    [Theory]
    [InlineData("text/csv", "host,owner\r\na,b\r\n")]
    [InlineData("text/csv", "\uFEFFhost,owner\r\na,b\r\n")]
    [InlineData("application/octet-stream", "host,owner\na,b\n")]
    [InlineData(null, "host,owner\na,b")]
    [InlineData("application/json", "{\"request_id\":\"r1\",\"data\":\"host,owner\\r\\na,b\\r\\n\"}")]
    public void DownloadBody_EveryShape_GivesTheCsvTextWithoutBom(string? mediaType, string body)
    {
        var text = DownloadBody.CsvText(mediaType, Encoding.UTF8.GetBytes(body), out _);

        Assert.StartsWith("host,owner", text);
        Assert.Contains("(1 rows", RowsReader.Layout(text, "r1"));
    }
}
