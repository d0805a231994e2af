using FlashdutySync.Check;
using FlashdutySync.Flashduty;
using FlashdutySync.Sync;
using Inventory.Contracts;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Tests.Sync;

public sealed class LabelMappingTests
{
    private const string Id = "665f1a2b3c4d5e6f7a8b9c04";
    private static readonly DateTimeOffset At = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static FlashdutyOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return configuration.GetSection(FlashdutyOptions.SectionName).Get<FlashdutyOptions>()!;
    }

    private static List<string> Failures(FlashdutyOptions options) =>
        new FlashdutyOptionsValidator().Validate(null, options) is { Failed: true } r ? [.. r.Failures!] : [];

    private static readonly Dictionary<string, string?> Mapped = new()
    {
        ["Flashduty:AppKey"] = "k",
        ["Flashduty:Schemas:0:Id"] = Id,
        ["Flashduty:Schemas:0:Labels:hostname"] = "host",
        ["Flashduty:Schemas:0:Labels:owner_email"] = "labels.email",
        ["Flashduty:Schemas:0:Constants:source"] = "cmdb",
        ["Flashduty:Schemas:0:Events:0"] = "HostProvisioned",
        ["Flashduty:Schemas:0:Events:1"] = "hostdecommissioned",
    };

    [Fact]
    public void EnvironmentShapedSettings_BindAndValidate_AndTheMappingSetsTheSchemasLabels()
    {
        var options = Bind(Mapped);
        Assert.Empty(Failures(options));
        var (schemaId, mapping) = Assert.Single(options.ConfiguredSchemas());
        Assert.Equal(Id, schemaId);

        var provisioned = EventTranslator.Translate(new HostProvisioned
        {
            Host = "web-1", Owner = "alice", Team = "sre", Labels = new Dictionary<string, string> { ["email"] = "a@example.com", ["hostname"] = "not-this" }, OccurredAt = At,
        });
        Assert.Equal(new Dictionary<string, string> { ["hostname"] = "web-1", ["owner_email"] = "a@example.com", ["team"] = "sre", ["source"] = "cmdb" },
            mapping.LabelsOf(provisioned, ["hostname", "owner_email", "team", "source"]));
        Assert.Null(mapping.LabelsOf(EventTranslator.Translate(new OwnerChanged { Host = "web-1", Owner = "bob", OccurredAt = At }), ["hostname"])); // not among its events
        Assert.Equal("hostname", mapping.HostLabel(["hostname"]));
    }

    [Fact]
    public void AppsettingsJson_BindsTheSameMapping()
    {
        const string json = """
            {"Flashduty": {"AppKey": "k", "Schemas": [{"Id": "665f1a2b3c4d5e6f7a8b9c04", "Labels": {"hostname": "host", "owner_email": "labels.email"}, "Constants": {"source": "cmdb"}}]}}
            """;
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();
        var options = configuration.GetSection(FlashdutyOptions.SectionName).Get<FlashdutyOptions>()!;

        Assert.Empty(Failures(options));
        var mapping = Assert.Single(options.ConfiguredSchemas()).Mapping;
        Assert.Equal("hostname ← host, owner_email ← labels.email, source = 'cmdb', events HostProvisioned, OwnerChanged, HostDecommissioned", mapping.Describe());
    }

    [Fact]
    public void ByName_IsTodaysMapping_TheTranslatorsLabelsAsTheyAre()
    {
        var e = EventTranslator.Translate(new HostProvisioned { Host = "h", Owner = "o", Labels = new Dictionary<string, string> { ["rack"] = "r1" }, OccurredAt = At });
        Assert.True(LabelMapping.ByName.IsByName);
        Assert.Same(e.Labels, LabelMapping.ByName.LabelsOf(e, ["host", "owner", "rack"]));
        Assert.Equal("host", LabelMapping.ByName.HostLabel(["host", "env"]));
        Assert.Null(LabelMapping.ByName.HostLabel(["service"]));
    }

    [Theory]
    [InlineData("Flashduty:Schemas:0:Labels:owner_email", "label.email", "Flashduty:Schemas:0 (schema " + Id + "): Labels:owner_email is 'label.email', not an event field (host, owner, team, service) nor labels.<name>")]
    [InlineData("Flashduty:Schemas:0:Labels:Owner", "owner", "Labels:Owner: 'Owner' is not a label name")]
    [InlineData("Flashduty:Schemas:0:Events:0", "HostCreated", "Events:0 is 'HostCreated', not an event (HostProvisioned, OwnerChanged, HostDecommissioned)")]
    [InlineData("Flashduty:Schemas:0:Constants:owner_email", "x", "label 'owner_email' is in both Labels and Constants")]
    [InlineData("Flashduty:Schemas:0:Labels:team", "service", "label 'team' is mapped to the field 'service', which none of the events feeding the schema (OwnerChanged, HostDecommissioned) carries: nothing would fill it")]
    [InlineData("Flashduty:SchemaIds:0", Id, "Flashduty:Schemas:0:Id: schema " + Id + " is configured twice")]
    public void AMistake_IsNamedWithTheSchemaAndTheLabel(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>(Mapped) { [key] = value };
        if (key.EndsWith(":Labels:team", StringComparison.Ordinal)) settings["Flashduty:Schemas:0:Events:0"] = "OwnerChanged";

        var failures = Failures(Bind(settings));

        Assert.Contains(failures, f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void NoSchemaAtAll_IsRefused() =>
        Assert.Contains(Failures(Bind(new() { ["Flashduty:AppKey"] = "k" })), f => f.StartsWith("Flashduty:SchemaIds needs at least one schema id", StringComparison.Ordinal));

    [Fact]
    public void Fit_AgainstTheSchemasLabels_ErrorsForAMissingLabel_NoWarningForAConfiguredLabelsEntry_AWarningForAByNameOne()
    {
        var mapping = Bind(Mapped).ConfiguredSchemas()[0].Mapping;

        var (errors, warnings) = LabelSources.Fit(Id, mapping, ["hostname"], ["owner_email", "region", "source"], TimeSpan.FromMinutes(15));

        Assert.Empty(errors);
        var warning = Assert.Single(warnings);
        Assert.StartsWith($"schema {Id}: label 'region' is filled by no event field, only by labels.region", warning, StringComparison.Ordinal);
        Assert.Equal("host of HostProvisioned, HostDecommissioned", LabelSources.Describe("hostname", ["hostname"], mapping).Text);
        Assert.Equal("labels.email of HostProvisioned", LabelSources.Describe("owner_email", ["hostname"], mapping).Text);
        Assert.Equal("'cmdb' (constant, Flashduty:Schemas:0:Constants:source)", LabelSources.Describe("source", ["hostname"], mapping).Text);

        var (missing, _) = LabelSources.Fit(Id, mapping, ["host"], ["owner_email", "source"], TimeSpan.FromMinutes(15));
        Assert.Contains(missing, e => e.StartsWith($"Flashduty:Schemas:0:Labels:hostname: schema {Id} has no label 'hostname'", StringComparison.Ordinal));
    }

    [Fact]
    public void Fit_OnlyDecommissionsFeedingASchemaWithResultLabels_TheLabelsCanBeFilledByNothing()
    {
        var options = Bind(new() { ["Flashduty:AppKey"] = "k", ["Flashduty:Schemas:0:Id"] = Id, ["Flashduty:Schemas:0:Events:0"] = "HostDecommissioned" });
        var mapping = options.ConfiguredSchemas()[0].Mapping;

        var (errors, _) = LabelSources.Fit(Id, mapping, ["host"], ["owner"], TimeSpan.FromMinutes(15));

        Assert.Contains(errors, e => e.StartsWith($"schema {Id}: label 'owner' can be filled by nothing", StringComparison.Ordinal));
    }
}
