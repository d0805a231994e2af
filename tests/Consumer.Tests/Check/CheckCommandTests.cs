using System.Diagnostics;
using Flashduty.Simulator;
using FlashdutySync.Check;
using Xunit.Abstractions;

namespace FlashdutySync.Tests.Check;

/// <summary>The <c>check</c> verb against the in-process simulator: what it prints, what it costs, how it exits.</summary>
public sealed class CheckCommandTests(ITestOutputHelper log) : IAsyncLifetime
{
    private const string AppKey = "check-app-key-5e1d7b20c4";
    private const string HostSchema = "665f1a2b3c4d5e6f7a8b9c01";
    private const string HostServiceSchema = "665f1a2b3c4d5e6f7a8b9c03";
    private const string MissingSchema = "665f1a2b3c4d5e6f7a8b9cff";
    private static readonly string[] ReadEndpoints = ["schema/list", "schema/info", "data/download", "data/list"];

    private SimulatorHost _sim = null!;

    public async Task InitializeAsync()
    {
        _sim = await SimulatorHost.StartAsync(o => o.AppKeys = [AppKey]);
        _sim.State.AddSchema(HostSchema, "host_owner", ["host"], ["owner", "team", "service"]);
        _sim.State.AddSchema(HostServiceSchema, "host_service_owner", ["host", "service"], ["owner", "team"]);
    }

    public async Task DisposeAsync() => await _sim.DisposeAsync();

    private static Dictionary<string, string> Row(string host, string owner, string service = "payments") =>
        new() { ["host"] = host, ["owner"] = owner, ["team"] = "core", ["service"] = service };

    private async Task<(int Exit, string Output)> CheckAsync(string appKey = AppKey, params (string Key, string? Value)[] settings)
    {
        var config = new Dictionary<string, string?>
        {
            ["Flashduty:BaseUrl"] = _sim.BaseUrl.ToString(),
            ["Flashduty:AppKey"] = appKey,
            ["Flashduty:Retry:BaseDelay"] = "00:00:00.050",
            ["Flashduty:Retry:MaxDelay"] = "00:00:00.500",
            ["Flashduty:AttemptTimeout"] = "00:00:05",
        };
        if (settings.Length == 0) settings = [("Flashduty:SchemaIds:0", HostSchema), ("Flashduty:SchemaIds:1", HostServiceSchema)];
        foreach (var (key, value) in settings) config[key] = value;
        using var output = new StringWriter();
        var exit = await CheckCommand.RunAsync([], output, c => c.AddInMemoryCollection(config));
        var text = output.ToString();
        log.WriteLine(text);
        Assert.DoesNotContain(appKey, text, StringComparison.Ordinal);
        return (exit, text);
    }

    private IReadOnlyList<RecentRequest> Requests() => _sim.State.Stats.Recent();

    private static string LastLine(string output) => output.TrimEnd().Split('\n')[^1];

    [Theory]
    [InlineData(DownloadFormat.Csv, "raw CSV (text/csv), CRLF")]
    [InlineData(DownloadFormat.CsvBom, "raw CSV (text/csv, UTF-8 BOM), CRLF")]
    [InlineData(DownloadFormat.OctetStream, "raw CSV (application/octet-stream), LF")]
    [InlineData(DownloadFormat.Envelope, "JSON envelope with CSV text, CRLF")]
    public async Task Check_OneAndTwoLabelSchemasWithRows_ExitsZeroPrintingRowsFormatAndSampleKeysWithinTheBudget(DownloadFormat format, string shown)
    {
        _sim.State.Readings = _sim.State.Readings with { DownloadFormat = format, MultiLabelKeySpelling = global::Flashduty.Simulator.KeySpelling.Comma };
        _sim.State.SeedRows(HostSchema, [Row("web-1", "alice"), Row("web-2", "bob"), Row("db-1", "carol")]);
        _sim.State.SeedRows(HostServiceSchema, [Row("web-1", "alice"), Row("web-1", "dave", "billing")]);

        var (exit, output) = await CheckAsync();

        Assert.Equal(0, exit);
        Assert.Contains("key: accepted", output, StringComparison.Ordinal);
        Assert.Contains("rows: 3 of its cap of 10,000 (Flashduty:DefaultRowCap), 0.03% full", output, StringComparison.Ordinal);
        Assert.Contains("rows: 2 of its cap of 10,000", output, StringComparison.Ordinal);
        Assert.Contains($"download format: {shown}", output, StringComparison.Ordinal);
        Assert.Contains("'db-1' ← host=db-1", output, StringComparison.Ordinal);
        Assert.Contains("keys are the source value", output, StringComparison.Ordinal);
        Assert.Contains("'web-1,billing' ← host=web-1, service=billing", output, StringComparison.Ordinal);
        Assert.Contains("keys are the source values joined by ','", output, StringComparison.Ordinal);
        Assert.Contains("host    ← every event", output, StringComparison.Ordinal);
        Assert.Contains("owner   ← HostProvisioned.owner, OwnerChanged.owner", output, StringComparison.Ordinal);
        Assert.Contains("service ← HostProvisioned.service", output, StringComparison.Ordinal);
        Assert.Contains("HostDecommissioned deletes every row of the host", output, StringComparison.Ordinal);
        Assert.DoesNotContain("WARNING", output, StringComparison.Ordinal);

        var requests = Requests();
        Assert.All(requests, r => Assert.Contains(r.Endpoint, ReadEndpoints));
        Assert.All(requests, r => Assert.Equal(200, r.Status));
        Assert.True(requests.Count <= CheckRun.Budget(2), $"{requests.Count} requests for 2 schemas");
        Assert.Equal(1, requests.Count(r => r.Endpoint == "schema/list"));
        Assert.DoesNotContain(requests, r => r.Endpoint == "schema/info");
        Assert.Equal($"check: OK ({requests.Count} requests)", LastLine(output));
    }

    [Fact]
    public async Task Check_TwoLabelSchemaWithOpaqueKeys_SaysSo_AndExitsZero()
    {
        _sim.State.Readings = _sim.State.Readings with { MultiLabelKeySpelling = global::Flashduty.Simulator.KeySpelling.Hash };
        _sim.State.SeedRows(HostServiceSchema, [Row("web-1", "alice"), Row("web-1", "dave", "billing")]);

        var (exit, output) = await CheckAsync(settings: ("Flashduty:SchemaIds:0", HostServiceSchema));

        Assert.Equal(0, exit);
        Assert.Contains(FlashdutySync.Check.KeySpelling.Opaque, output, StringComparison.Ordinal);
        Assert.Contains("download format: raw CSV (text/csv), CRLF", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_EmptySchema_ExitsZeroSayingNoRowsAndNoKeysYet()
    {
        var (exit, output) = await CheckAsync(settings: ("Flashduty:SchemaIds:0", HostSchema));

        Assert.Equal(0, exit);
        Assert.Contains("rows: 0 of its cap", output, StringComparison.Ordinal);
        Assert.Contains("sample keys: none", output, StringComparison.Ordinal);
        Assert.Equal(3, Requests().Count);
        Assert.Equal("check: OK (3 requests)", LastLine(output));
    }

    [Fact]
    public async Task Check_RefusedKey_ExitsOneSayingWhatToFixWithoutPrintingTheKey()
    {
        var (exit, output) = await CheckAsync(appKey: "refused-key-9c2f4e61aa");

        Assert.Equal(1, exit);
        Assert.Contains("Flashduty refuses the app key (401): set a valid key in Flashduty__AppKey", output, StringComparison.Ordinal);
        var only = Assert.Single(Requests());
        Assert.Equal(("schema/list", 401), (only.Endpoint, only.Status));
        Assert.Equal("check: 1 problem(s) (1 requests)", LastLine(output));
    }

    [Fact]
    public async Task Check_FlashdutyFailingEveryCall_ExitsOneAfterTheServicesRetriesCountingEachAttempt()
    {
        _sim.State.Faults = new FaultOptions { ServerErrorRate = 1 };

        var (exit, output) = await CheckAsync(settings: [("Flashduty:SchemaIds:0", HostSchema), ("Flashduty:Retry:MaxRetries", "2"), ("Flashduty:Retry:BaseDelay", "00:00:00.010")]);

        Assert.Equal(1, exit);
        Assert.Contains("schema/list failed, so nothing else was tried", output, StringComparison.Ordinal);
        Assert.Contains("still after the service's retries", output, StringComparison.Ordinal);
        Assert.Equal(3, Requests().Count(r => r.Endpoint == "schema/list" && r.Status >= 500));
        Assert.Equal("check: 1 problem(s) (3 requests)", LastLine(output));
    }

    [Fact]
    public async Task Check_SchemaTheAccountDoesNotHave_ExitsOneNamingIt()
    {
        var (exit, output) = await CheckAsync(settings: [("Flashduty:SchemaIds:0", HostSchema), ("Flashduty:SchemaIds:1", MissingSchema)]);

        Assert.Equal(1, exit);
        Assert.Contains($"schema {MissingSchema} does not exist (Flashduty:SchemaIds:1)", output, StringComparison.Ordinal);
        // The missing schema costs schema/info and nothing more.
        Assert.Equal(["schema/info"], Requests().Where(r => r.SchemaId == MissingSchema).Select(r => r.Endpoint));
        Assert.Equal($"check: 1 problem(s) ({Requests().Count} requests)", LastLine(output));
    }

    [Fact]
    public async Task Check_LabelNoEventFieldFills_WarnsNamingItAndExitsZero()
    {
        const string regionSchema = "665f1a2b3c4d5e6f7a8b9c04";
        _sim.State.AddSchema(regionSchema, "host_region", ["host"], ["owner", "region"]);

        var (exit, output) = await CheckAsync(settings: ("Flashduty:SchemaIds:0", regionSchema));

        Assert.Equal(0, exit);
        Assert.Contains("region ← only labels.region of an event", output, StringComparison.Ordinal);
        Assert.Contains($"WARNING: schema {regionSchema}: label 'region' is filled by no event field", output, StringComparison.Ordinal);
        Assert.Contains("wait in flashduty-mapping-sync_wait", output, StringComparison.Ordinal);
        Assert.Contains("Sync:MaxIncompleteWait (00:15:00)", output, StringComparison.Ordinal);
        Assert.StartsWith("check: OK (", LastLine(output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_MappedSchema_SaysWhatFillsEachLabelUnderTheMapping_AndAMisfitIsAProblemNamingTheLabel()
    {
        const string hostnameSchema = "665f1a2b3c4d5e6f7a8b9c04";
        _sim.State.AddSchema(hostnameSchema, "hostname_owner", ["hostname"], ["owner_email", "source"]);
        (string, string?)[] mapped =
        [
            ("Flashduty:Schemas:0:Id", hostnameSchema), ("Flashduty:Schemas:0:Labels:hostname", "host"),
            ("Flashduty:Schemas:0:Labels:owner_email", "labels.email"), ("Flashduty:Schemas:0:Constants:source", "cmdb"),
        ];

        var (exit, output) = await CheckAsync(settings: mapped);

        Assert.Equal(0, exit);
        Assert.Contains($"schema {hostnameSchema} (Flashduty:Schemas:0)", output, StringComparison.Ordinal);
        Assert.Contains("hostname    ← host of every event", output, StringComparison.Ordinal);
        Assert.Contains("owner_email ← labels.email of HostProvisioned, OwnerChanged", output, StringComparison.Ordinal);
        Assert.Contains("source      ← 'cmdb' (constant, Flashduty:Schemas:0:Constants:source)", output, StringComparison.Ordinal);
        Assert.Contains("HostDecommissioned deletes the host's row (by hostname)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("WARNING", output, StringComparison.Ordinal);

        var (misfit, problems) = await CheckAsync(settings: [.. mapped, ("Flashduty:Schemas:0:Labels:ownr", "owner")]);

        Assert.Equal(1, misfit);
        Assert.Contains($"PROBLEM: Flashduty:Schemas:0:Labels:ownr: schema {hostnameSchema} has no label 'ownr'", problems, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_SchemaWithoutHostSourceLabel_WarnsThatDecommissionsDoNotReachIt()
    {
        const string serviceSchema = "665f1a2b3c4d5e6f7a8b9c02";
        _sim.State.AddSchema(serviceSchema, "service_owner", ["service"], ["owner", "team"]);

        var (exit, output) = await CheckAsync(settings: ("Flashduty:SchemaIds:0", serviceSchema));

        Assert.Equal(0, exit);
        Assert.Contains("owner   ← HostProvisioned.owner; OwnerChanged.owner only with labels.service", output, StringComparison.Ordinal);
        Assert.Contains("decommissions never reach this schema", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3, 0, "WARNING: schema " + HostSchema + " is 100% full")]
    [InlineData(2, 1, "PROBLEM: schema " + HostSchema + " holds 3 rows, more than its cap of 2 (Flashduty:RowCaps:" + HostSchema + ")")]
    public async Task Check_RowsAgainstTheConfiguredCap_WarnNearItAndFailPastIt(int cap, int expectedExit, string expected)
    {
        _sim.State.SeedRows(HostSchema, [Row("web-1", "alice"), Row("web-2", "bob"), Row("db-1", "carol")]);

        var (exit, output) = await CheckAsync(settings: [("Flashduty:SchemaIds:0", HostSchema), ($"Flashduty:RowCaps:{HostSchema}", cap.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

        Assert.Equal(expectedExit, exit);
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_InvalidConfiguration_ExitsTwoNamingTheKeySendingNothing()
    {
        var (exit, output) = await CheckAsync(settings: ("Flashduty:SchemaIds:0", "not-a-schema-id"));

        Assert.Equal(2, exit);
        Assert.Contains("Flashduty:SchemaIds:0 is 'not-a-schema-id', not a schema id", output, StringComparison.Ordinal);
        Assert.Empty(Requests());
    }

    [Fact]
    public async Task ConsumerCheck_BuiltBinaryWithEnvironmentVariables_PrintsTheReportAndExitsZero()
    {
        _sim.State.SeedRows(HostSchema, [Row("web-1", "alice")]);
        var dll = Path.Combine(AppContext.BaseDirectory, "Consumer.dll");
        var info = new ProcessStartInfo("dotnet", [dll, "check"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["Flashduty__BaseUrl"] = _sim.BaseUrl.ToString();
        info.Environment["Flashduty__AppKey"] = AppKey;
        info.Environment["Flashduty__SchemaIds__0"] = HostSchema;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{output}\n{await stderr}");
        Assert.Contains("'web-1' ← host=web-1", output, StringComparison.Ordinal);
        Assert.DoesNotContain(AppKey, output + await stderr, StringComparison.Ordinal);
        Assert.Equal("check: OK (3 requests)", LastLine(output));
    }
}
