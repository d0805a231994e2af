using System.Security.Cryptography;
using System.Text;
using Flashduty.Simulator;

namespace FlashdutySync.Tests.Simulator;

/// <summary>The readings of what rows, keys and values the reference leaves open.</summary>
public sealed class SimulatorReadingsTests : IAsyncLifetime
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private const string TwoLabel = "665f1a2b3c4d5e6f7a8b9c02";
    private const string Missing = "665f1a2b3c4d5e6f7a8b9cff";
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
        _host.State.AddSchema(TwoLabel, "host_port", ["host", "port"], ["owner"]);
        _client = new SimulatorClient(_host);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
    }

    private void Play(Func<ApiReadings, ApiReadings> change) => _host.State.Readings = change(_host.State.Readings);

    private async Task<List<string>> UpsertKeysAsync(int count)
    {
        var (status, body, _, _) = await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = Enumerable.Range(0, count).Select(i => Docs.Row($"h{i:00}")).ToArray() });
        Assert.Equal(200, status);
        return body["data"]!["keys"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
    }

    [Fact]
    public void Readings_Defaults_AreTheSdkOrStrictestReadings()
    {
        var r = new ApiReadings();
        Assert.Equal(
            (DownloadFormat.Csv, KeyOrder.Shuffled, KeySpelling.Hash, LockConflict.TooFrequently429, MissingSchemaCode.InvalidParameter, ValueLimitUnit.Utf8Bytes, UnknownKeyDelete.Ignore, 0),
            (r.DownloadFormat, r.KeyOrder, r.MultiLabelKeySpelling, r.LockConflict, r.MissingSchemaCode, r.ValueLimitUnit, r.UnknownKeyDelete, r.MaxBodyBytes));
        Assert.Equal(r, _host.State.Readings);
    }

    [Fact]
    public async Task KeyOrder_Shuffled_With50Docs_IsAPermutationNotInDocsOrder_AndRepeatsWithTheSeed()
    {
        Play(r => r with { KeyOrder = KeyOrder.Shuffled, Seed = 7 });
        var expected = Enumerable.Range(0, 50).Select(i => $"h{i:00}").ToList();

        var keys = await UpsertKeysAsync(50);

        Assert.Equal(expected, keys.Order(StringComparer.Ordinal));
        Assert.NotEqual(expected, keys);
        Play(r => r with { Seed = 7 });
        Assert.Equal(keys, await UpsertKeysAsync(50));
    }

    [Fact]
    public async Task KeyOrder_Docs_FollowsTheDocs()
    {
        Play(r => r with { KeyOrder = KeyOrder.Docs });
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"h{i:00}"), await UpsertKeysAsync(50));
    }

    [Theory]
    [InlineData(KeySpelling.Comma)]
    [InlineData(KeySpelling.Hash)]
    public async Task KeySpelling_TwoLabelSchema_UpsertListDeleteRoundTripWithTheSpelledKey(KeySpelling spelling)
    {
        Play(r => r with { MultiLabelKeySpelling = spelling });
        var expected = spelling == KeySpelling.Comma
            ? "web-1,8080"
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("web-1\u001f8080")).AsSpan(0, 12));

        var upsert = await _client.PostAsync("data/upsert", new { schema_id = TwoLabel, docs = new[] { new { host = "web-1", port = "8080", owner = "alice" } } });
        var key = upsert.Body["data"]!["keys"]![0]!.GetValue<string>();
        Assert.Equal(expected, key);

        var list = await _client.PostAsync("data/list", new { schema_id = TwoLabel, query = new { host = "web-1", port = "8080" } });
        Assert.Equal(key, list.Body["data"]!["items"]![0]!["key"]!.GetValue<string>());

        Play(r => r with { UnknownKeyDelete = UnknownKeyDelete.Refuse });
        Assert.Equal(200, (await _client.PostAsync("data/delete", new { schema_id = TwoLabel, keys = new[] { key } })).Status);
        Assert.Equal(0, _host.State.GetSchema(TwoLabel)!.RowCount);
    }

    [Fact]
    public async Task KeySpelling_OneLabelSchema_IsTheValueUnderEitherSpelling()
    {
        Play(r => r with { MultiLabelKeySpelling = KeySpelling.Hash, KeyOrder = KeyOrder.Docs });
        Assert.Equal(["h00"], await UpsertKeysAsync(1));
        Play(r => r with { MultiLabelKeySpelling = KeySpelling.Comma });
        Assert.Equal(["h00"], await UpsertKeysAsync(1));
    }

    [Fact]
    public async Task KeySpelling_ChangedAtRunTime_RespellsTheStoredKeys()
    {
        Play(r => r with { MultiLabelKeySpelling = KeySpelling.Hash });
        await _client.PostAsync("data/upsert", new { schema_id = TwoLabel, docs = new[] { new { host = "web-1", port = "80", owner = "alice" } } });

        Play(r => r with { MultiLabelKeySpelling = KeySpelling.Comma });

        Assert.Equal(["web-1,80"], _host.State.GetSchema(TwoLabel)!.Snapshot().Select(r => r.Key));
        await _client.PostAsync("data/upsert", new { schema_id = TwoLabel, docs = new[] { new { host = "web-1", port = "80", owner = "bob" } } });
        Assert.Equal("bob", _host.State.GetSchema(TwoLabel)!.Snapshot().Single().Fields["owner"]);
    }

    [Theory]
    [InlineData(MissingSchemaCode.InvalidParameter)]
    [InlineData(MissingSchemaCode.ResourceNotFound)]
    public async Task MissingSchema_EveryDataCall_AnswersTheReadingsCode_AndInfoIsNull(MissingSchemaCode reading)
    {
        Play(r => r with { MissingSchemaCode = reading });
        foreach (var (endpoint, body) in new (string, object)[]
                 {
                     ("data/upsert", new { schema_id = Missing, docs = new[] { Docs.Row("a") } }),
                     ("data/delete", new { schema_id = Missing, keys = new[] { "a" } }),
                     ("data/list", new { schema_id = Missing }),
                     ("data/download", new { schema_id = Missing }),
                     ("data/truncate", new { schema_id = Missing }),
                 })
        {
            var (status, json, _, _) = await _client.PostAsync(endpoint, body);
            Assert.Equal(400, status);
            Assert.Equal(reading.ToString(), SimulatorClient.Code(json));
            Assert.Contains($"schema_id '{Missing}' does not exist", SimulatorClient.Message(json));
        }

        var info = await _client.PostAsync("schema/info", new { schema_id = Missing });
        Assert.Equal(200, info.Status);
        Assert.Null(info.Body["data"]);
        Assert.Equal("InvalidParameter", SimulatorClient.Code((await _client.PostAsync("data/list", new { schema_id = "XYZ" })).Body));
    }

    [Theory]
    [InlineData(ValueLimitUnit.Characters, '漢', 1000, 200)]
    [InlineData(ValueLimitUnit.Utf8Bytes, '漢', 1000, 400)]
    [InlineData(ValueLimitUnit.Utf8Bytes, '漢', 682, 200)]
    [InlineData(ValueLimitUnit.Characters, 'x', 2048, 200)]
    [InlineData(ValueLimitUnit.Utf8Bytes, 'x', 2048, 200)]
    [InlineData(ValueLimitUnit.Characters, 'x', 2049, 400)]
    [InlineData(ValueLimitUnit.Utf8Bytes, 'x', 2049, 400)]
    public async Task ValueLimit_CountedInTheReadingsUnit_RefusalNamesTheDocAndLabel(ValueLimitUnit unit, char c, int length, int status)
    {
        Play(r => r with { ValueLimitUnit = unit });
        var value = new string(c, length);

        var (actual, json, _, _) = await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("ok"), Docs.Row("long", value) } });

        Assert.Equal(status, actual);
        if (status == 400)
        {
            Assert.Equal("InvalidParameter", SimulatorClient.Code(json));
            Assert.Contains($"docs[1].owner is {(unit == ValueLimitUnit.Utf8Bytes ? Encoding.UTF8.GetByteCount(value) + " UTF-8 bytes" : length + " characters")} long", SimulatorClient.Message(json));
            Assert.Equal(0, _host.State.GetSchema(Schema)!.RowCount);
        }
        else
        {
            Assert.Equal(value, _host.State.GetSchema(Schema)!.Snapshot().Single(r => r.Key == "long").Fields["owner"]);
        }
    }

    [Fact]
    public async Task ValueLimit_Characters_CountsASurrogatePairAsOneCharacter()
    {
        Play(r => r with { ValueLimitUnit = ValueLimitUnit.Characters });
        var emoji = string.Concat(Enumerable.Repeat("😀", 2048));
        Assert.Equal(200, (await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", emoji) } })).Status);
        Assert.Equal(400, (await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", emoji + "x") } })).Status);
    }

    [Fact]
    public async Task UnknownKeyDelete_Ignore_DeletesTheKnownKeysAndAnswers200()
    {
        Play(r => r with { UnknownKeyDelete = UnknownKeyDelete.Ignore });
        await UpsertKeysAsync(2);

        Assert.Equal(200, (await _client.PostAsync("data/delete", new { schema_id = Schema, keys = new[] { "h00", "nope" } })).Status);
        Assert.Equal(["h01"], _host.State.GetSchema(Schema)!.Snapshot().Select(r => r.Key));
    }

    [Fact]
    public async Task UnknownKeyDelete_Refuse_Is400NamingTheKey_AndDeletesNothing()
    {
        Play(r => r with { UnknownKeyDelete = UnknownKeyDelete.Refuse });
        await UpsertKeysAsync(2);

        var (status, json, _, _) = await _client.PostAsync("data/delete", new { schema_id = Schema, keys = new[] { "h00", "nope" } });

        Assert.Equal(400, status);
        Assert.Equal("InvalidParameter", SimulatorClient.Code(json));
        Assert.Contains("keys[1] 'nope'", SimulatorClient.Message(json));
        Assert.Equal(2, _host.State.GetSchema(Schema)!.RowCount);
    }
}
