using System.Net;
using System.Text;
using Flashduty.Simulator;

namespace FlashdutySync.Tests.Simulator;

public sealed class SimulatorRulesTests : IAsyncLifetime
{
    private const string Schema = "665f1a2b3c4d5e6f7a8b9c01";
    private SimulatorHost _host = null!;
    private SimulatorClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = ["k-full"];
            o.ReadOnlyKeys = ["k-read"];
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

    [Fact]
    public async Task Upsert_TheReferenceExample_ReturnsKeysAndTheSameRequestIdInBodyAndHeader()
    {
        _host.State.Readings = _host.State.Readings with { KeyOrder = KeyOrder.Docs };
        var (status, body, headerId, _) = await _client.PostAsync("data/upsert", new
        {
            schema_id = Schema,
            docs = new[] { Docs.Row("server01"), Docs.Row("server02", "bob") },
        });

        Assert.Equal(200, status);
        Assert.Equal(["server01", "server02"], body["data"]!["keys"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal(headerId, body["request_id"]!.GetValue<string>());
        Assert.Equal(26, headerId!.Length);
        Assert.Equal("bob", _host.State.GetSchema(Schema)!.Snapshot().Single(r => r.Key == "server02").Fields["owner"]);
    }

    [Theory]
    [InlineData("missing-key", 401, "Unauthorized", "app_key")]
    [InlineData("read-only-write", 403, "AccessDenied", "Mappings Manage")]
    [InlineData("missing-label", 400, "InvalidParameter", "docs[0] has no value for label 'team'")]
    [InlineData("long-value", 400, "InvalidParameter", "docs[0].owner is 2049 UTF-8 bytes long")]
    [InlineData("non-string", 400, "InvalidParameter", "docs[0].owner is not a string")]
    [InlineData("too-many-docs", 400, "InvalidParameter", "docs has 1001 items, the most is 1000")]
    [InlineData("unknown-schema", 400, "InvalidParameter", "schema_id '665f1a2b3c4d5e6f7a8b9cff' does not exist")]
    [InlineData("bad-schema-id", 400, "InvalidParameter", "not a valid id")]
    [InlineData("too-many-keys", 400, "InvalidParameter", "keys has 101 items, the most is 100")]
    public async Task BrokenRequests_AreRefusedWithTheDocumentedStatusCodeAndANamingMessage(string rule, int status, string code, string message)
    {
        var (endpoint, body, key) = rule switch
        {
            "missing-key" => ("data/upsert", (object)new { schema_id = Schema, docs = new[] { Docs.Row("a") } }, "nope"),
            "read-only-write" => ("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a") } }, "k-read"),
            "missing-label" => ("data/upsert", new { schema_id = Schema, docs = new object[] { new { host = "a", owner = "x", service = "y" } } }, null),
            "long-value" => ("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", new string('x', 2049)) } }, null),
            "non-string" => ("data/upsert", new { schema_id = Schema, docs = new object[] { new { host = "a", owner = 7, team = "t", service = "s" } } }, null),
            "too-many-docs" => ("data/upsert", new { schema_id = Schema, docs = Enumerable.Range(0, 1001).Select(i => Docs.Row($"h{i}")).ToArray() }, null),
            "unknown-schema" => ("data/upsert", new { schema_id = "665f1a2b3c4d5e6f7a8b9cff", docs = new[] { Docs.Row("a") } }, null),
            "bad-schema-id" => ("data/list", new { schema_id = "XYZ" }, null),
            _ => ("data/delete", new { schema_id = Schema, keys = Enumerable.Range(0, 101).Select(i => $"h{i}").ToArray() }, null),
        };

        var (actual, json, _, _) = await _client.PostAsync(endpoint, body, key);

        Assert.Equal(status, actual);
        Assert.Equal(code, SimulatorClient.Code(json));
        Assert.Contains(message, SimulatorClient.Message(json));
        Assert.NotNull(json["request_id"]);
        Assert.Empty(_host.State.GetSchema(Schema)!.Snapshot());
    }

    [Fact]
    public async Task ReadOnlyKey_MayStillRead()
    {
        var (status, _, _, _) = await _client.PostAsync("data/list", new { schema_id = Schema }, "k-read");
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task NonJsonContentType_IsInvalidContentType_AndUnknownPath_IsRouteNotFound()
    {
        var response = await _client.Http.PostAsync($"/enrichment/mapping/data/list?app_key=k-full", new StringContent("{}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("InvalidContentType", await response.Content.ReadAsStringAsync());

        var missing = await _client.Http.PostAsync("/enrichment/mapping/data/nothing?app_key=k-full", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("\"error\":{\"code\":\"RouteNotFound\"", await missing.Content.ReadAsStringAsync());

        var outside = await _client.Http.PostAsync("/enrichment/other?app_key=k-full", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        Assert.Contains("\"error\":{\"code\":\"RouteNotFound\"", await outside.Content.ReadAsStringAsync());

        var get = await _client.Http.GetAsync("/enrichment/mapping/data/list?app_key=k-full");
        Assert.Contains("MethodNotAllowed", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RowCap_RefusesTheWholeRequestThatWouldPassIt_ButUpdatesOfExistingKeysGoOn()
    {
        _host.State.GetSchema(Schema)!.RowCap = 3;
        Assert.Equal(200, (await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a"), Docs.Row("b") } })).Status);

        var (status, body, _, _) = await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", "new"), Docs.Row("c"), Docs.Row("d") } });
        Assert.Equal(400, status);
        Assert.Contains("cap of 3", SimulatorClient.Message(body));
        Assert.Equal("alice", _host.State.GetSchema(Schema)!.Snapshot().Single(r => r.Key == "a").Fields["owner"]);

        Assert.Equal(200, (await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", "new"), Docs.Row("c") } })).Status);
        Assert.Equal(3, _host.State.GetSchema(Schema)!.RowCount);
    }

    [Fact]
    public async Task SchemaCreate_EnforcesLabelRules_AndInfoDescribesIt()
    {
        async Task<string> Refused(object body) => SimulatorClient.Message((await _client.PostAsync("schema/create", body)).Body);

        Assert.Contains("does not match", await Refused(new { schema_name = "s1", source_labels = new[] { "Host" }, result_labels = new[] { "owner" } }));
        Assert.Contains("1 to 3", await Refused(new { schema_name = "s1", source_labels = new[] { "a", "b", "c", "d" }, result_labels = new[] { "owner" } }));
        Assert.Contains("1 to 10", await Refused(new { schema_name = "s1", source_labels = new[] { "a" }, result_labels = Array.Empty<string>() }));
        Assert.Contains("both source and result", await Refused(new { schema_name = "s1", source_labels = new[] { "a" }, result_labels = new[] { "a" } }));
        Assert.Contains("already used", await Refused(new { schema_name = "host_owner", source_labels = new[] { "a" }, result_labels = new[] { "b" } }));

        var (status, created, _, _) = await _client.PostAsync("schema/create", new { schema_name = "ip_owner", source_labels = new[] { "ip" }, result_labels = new[] { "owner" } });
        Assert.Equal(200, status);
        var id = created["data"]!["schema_id"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{24}$", id);
        var info = (await _client.PostAsync("schema/info", new { schema_id = id })).Body["data"]!;
        Assert.Equal("ip", info["source_labels"]![0]!.GetValue<string>());
        Assert.Null((await _client.PostAsync("schema/info", new { schema_id = "665f1a2b3c4d5e6f7a8b9cff" })).Body["data"]);

        for (var i = _host.State.Schemas.Count; i < 20; i++)
            Assert.Equal(200, (await _client.PostAsync("schema/create", new { schema_name = $"s{i}", source_labels = new[] { "a" }, result_labels = new[] { "b" } })).Status);
        Assert.Contains("20 schemas", await Refused(new { schema_name = "one_too_many", source_labels = new[] { "a" }, result_labels = new[] { "b" } }));
    }

    [Fact]
    public async Task Download_EnvelopeIsCsvWithHeaderAndQuoting_ListFiltersAndPages_DeleteAndTruncateRemove()
    {
        _host.State.Readings = _host.State.Readings with { DownloadFormat = DownloadFormat.Envelope };
        await _client.PostAsync("data/upsert", new { schema_id = Schema, docs = new[] { Docs.Row("a", "Doe, \"J\""), Docs.Row("b"), Docs.Row("c") } });

        var csv = (await _client.PostAsync("data/download", new { schema_id = Schema })).Body["data"]!.GetValue<string>();
        Assert.StartsWith("host,owner,team,service\r\n", csv);
        Assert.Contains("a,\"Doe, \"\"J\"\"\",sre,api", csv);

        var page = (await _client.PostAsync("data/list", new { schema_id = Schema, p = 1, limit = 2, asc = true, orderby = "created_at" })).Body["data"]!;
        Assert.Equal(3, page["total"]!.GetValue<int>());
        Assert.True(page["has_next_page"]!.GetValue<bool>());
        var found = (await _client.PostAsync("data/list", new { schema_id = Schema, query = new { host = "b" } })).Body["data"]!;
        Assert.Equal("b", found["items"]![0]!["key"]!.GetValue<string>());
        Assert.Contains("'host' is missing", SimulatorClient.Message((await _client.PostAsync("data/list", new { schema_id = Schema, query = new { owner = "x" } })).Body));

        Assert.Equal(200, (await _client.PostAsync("data/delete", new { schema_id = Schema, keys = new[] { "a" } })).Status);
        Assert.Equal(2, _host.State.GetSchema(Schema)!.RowCount);
        Assert.Equal(200, (await _client.PostAsync("data/truncate", new { schema_id = Schema })).Status);
        Assert.Equal(0, _host.State.GetSchema(Schema)!.RowCount);
    }
}
