using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using CsvHelper;
using Flashduty.Simulator;

namespace FlashdutySync.Tests.Simulator;

public sealed class SimulatorDownloadTests : IAsyncLifetime
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private const string Tricky = "Doe, \"J\"\nsecond line";
    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];
    private SimulatorHost _host = null!;
    private SimulatorClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = ["k-full"];
            o.PerSecond = 0;
            o.PerMinute = 0;
        });
        _host.State.AddSchema(Schema, "host_owner", ["host"], ["owner", "team", "service"]);
        _client = new SimulatorClient(_host);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
    }

    private void Play(DownloadFormat format) => _host.State.Readings = _host.State.Readings with { DownloadFormat = format };

    private void SeedTwoRows() => _host.State.SeedRows(Schema, [
        new Dictionary<string, string> { ["host"] = "a", ["owner"] = "alice", ["team"] = "sre", ["service"] = "api" },
        new Dictionary<string, string> { ["host"] = "b", ["owner"] = "bob", ["team"] = "db", ["service"] = "pg" },
    ]);

    private async Task<(HttpResponseMessage Response, byte[] Body)> DownloadAsync()
    {
        var response = await _client.PostRawAsync("data/download", new { schema_id = Schema });
        return (response, await response.Content.ReadAsByteArrayAsync());
    }

    private static List<string[]> Parse(string text)
    {
        using var csv = new CsvReader(new StringReader(text), CultureInfo.InvariantCulture);
        var rows = new List<string[]>();
        while (csv.Read()) rows.Add(Enumerable.Range(0, csv.Parser.Count).Select(i => csv.GetField(i)!).ToArray());
        return rows;
    }

    [Fact]
    public void Readings_Default_IsRawCsv()
    {
        Assert.Equal(DownloadFormat.Csv, new ApiReadings().DownloadFormat);
        Assert.Equal(DownloadFormat.Csv, _host.State.Readings.DownloadFormat);
    }

    [Fact]
    public async Task Download_Csv_IsRawTextCsvWithCrlfNoBomAttachmentAndRequestIdHeader()
    {
        SeedTwoRows();
        var (response, body) = await DownloadAsync();

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/csv; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal("host_owner.csv", response.Content.Headers.ContentDisposition.FileName!.Trim('"'));
        Assert.Matches("^[0-9A-Z]{26}$", response.Headers.GetValues("Flashcat-Request-Id").Single());
        Assert.False(body.AsSpan().StartsWith(Bom));
        Assert.Equal("host,owner,team,service\r\na,alice,sre,api\r\nb,bob,db,pg\r\n", Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task Download_CsvBom_IsTheSameCsvAfterAUtf8Bom()
    {
        SeedTwoRows();
        Play(DownloadFormat.CsvBom);
        var (response, body) = await DownloadAsync();

        Assert.Equal("text/csv; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition!.DispositionType);
        Assert.True(body.AsSpan().StartsWith(Bom));
        Assert.Equal("host,owner,team,service\r\na,alice,sre,api\r\nb,bob,db,pg\r\n", Encoding.UTF8.GetString(body.AsSpan(Bom.Length)));
    }

    [Fact]
    public async Task Download_OctetStream_IsRawCsvWithLfAndNoBom()
    {
        SeedTwoRows();
        Play(DownloadFormat.OctetStream);
        var (response, body) = await DownloadAsync();

        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.NotNull(response.Headers.GetValues("Flashcat-Request-Id").Single());
        Assert.False(body.AsSpan().StartsWith(Bom));
        Assert.Equal("host,owner,team,service\na,alice,sre,api\nb,bob,db,pg\n", Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task Download_Envelope_IsJsonWithTheCrlfCsvTextAsDataAndTheSameRequestId()
    {
        SeedTwoRows();
        Play(DownloadFormat.Envelope);
        var (response, body) = await DownloadAsync();

        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Null(response.Content.Headers.ContentDisposition);
        var json = JsonNode.Parse(body)!;
        Assert.Equal(response.Headers.GetValues("Flashcat-Request-Id").Single(), json["request_id"]!.GetValue<string>());
        Assert.Equal("host,owner,team,service\r\na,alice,sre,api\r\nb,bob,db,pg\r\n", json["data"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(DownloadFormat.Envelope)]
    [InlineData(DownloadFormat.Csv)]
    [InlineData(DownloadFormat.CsvBom)]
    [InlineData(DownloadFormat.OctetStream)]
    public async Task Download_EachFormat_RoundTripsAFieldWithCommaQuoteAndNewline(DownloadFormat format)
    {
        Play(format);
        Assert.Equal(200, (await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", Tricky), Docs.Row("b") } })).Status);
        var (_, body) = await DownloadAsync();

        var text = format == DownloadFormat.Envelope
            ? JsonNode.Parse(body)!["data"]!.GetValue<string>()
            : new StreamReader(new MemoryStream(body), Encoding.UTF8, detectEncodingFromByteOrderMarks: true).ReadToEnd();
        var rows = Parse(text);
        Assert.Equal(["host", "owner", "team", "service"], rows[0]);
        Assert.Equal(["a", Tricky, "sre", "api"], rows[1]);
        Assert.Equal(["b", "alice", "sre", "api"], rows[2]);
        Assert.Equal(3, rows.Count);
    }

    [Theory]
    [InlineData(DownloadFormat.Envelope)]
    [InlineData(DownloadFormat.Csv)]
    [InlineData(DownloadFormat.CsvBom)]
    [InlineData(DownloadFormat.OctetStream)]
    public async Task Download_EachFormat_QuotesALoneLfCrOrCrlfInAValue(DownloadFormat format)
    {
        Play(format);
        string[] values = ["lf\nonly", "cr\ronly", "crlf\r\nend", " padded "];
        await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = values.Select((v, i) => Docs.Row($"h{i}", v)).ToArray() });
        var (_, body) = await DownloadAsync();

        var text = format == DownloadFormat.Envelope
            ? JsonNode.Parse(body)!["data"]!.GetValue<string>()
            : new StreamReader(new MemoryStream(body), Encoding.UTF8, detectEncodingFromByteOrderMarks: true).ReadToEnd();
        Assert.Equal(values, Parse(text).Skip(1).Select(r => r[1]));
    }

    [Fact]
    public async Task Download_Header_IsSourceLabelsThenResultLabelsInTheSchemasOrder()
    {
        const string two = "665f1a2b3c4d5e6f7a8b9c02";
        _host.State.AddSchema(two, "rack_slot", ["slot", "rack"], ["zeta", "alpha"]);
        var response = await _client.PostRawAsync("data/download", new { schema_id = two });

        Assert.Equal("slot,rack,zeta,alpha\r\n", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(DownloadFormat.Csv)]
    [InlineData(DownloadFormat.CsvBom)]
    [InlineData(DownloadFormat.OctetStream)]
    public async Task Download_ErrorUnderARawFormat_IsStillTheJsonErrorEnvelope(DownloadFormat format)
    {
        Play(format);
        var response = await _client.PostRawAsync("data/download", new { schema_id = "665f1a2b3c4d5e6f7a8b9cff" });

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Null(response.Content.Headers.ContentDisposition);
        var json = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal("InvalidParameter", SimulatorClient.Code(json));
        Assert.Equal(response.Headers.GetValues("Flashcat-Request-Id").Single(), json["request_id"]!.GetValue<string>());
    }
}
