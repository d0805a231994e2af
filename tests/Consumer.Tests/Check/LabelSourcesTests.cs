using FlashdutySync.Check;
using FlashdutySync.Sync;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Check;

/// <summary>What check says fills a label is what the translator does.</summary>
public sealed class LabelSourcesTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Fields_EveryEventWithEveryFieldSet_SetExactlyTheLabelsTheTranslatorSets()
    {
        var translated = new Dictionary<EventKind, IEnumerable<string>>
        {
            [EventKind.HostProvisioned] = EventTranslator.Translate(new HostProvisioned { Host = "h", Owner = "o", Team = "t", Service = "s", OccurredAt = At }).Labels.Keys,
            [EventKind.OwnerChanged] = EventTranslator.Translate(new OwnerChanged { Host = "h", Owner = "o", PreviousOwner = "p", OccurredAt = At }).Labels.Keys,
            [EventKind.HostDecommissioned] = EventTranslator.Translate(new HostDecommissioned { Host = "h", OccurredAt = At }).Labels.Keys,
        };

        Assert.Equal(Enum.GetValues<EventKind>().Length, LabelSources.Fields.Count);
        foreach (var (kind, labels) in LabelSources.Fields) Assert.Equal(translated[kind].Order(), labels.Order());
    }

    [Theory]
    [InlineData("host", "every event")]
    [InlineData("owner", "HostProvisioned.owner, OwnerChanged.owner")]
    [InlineData("team", "HostProvisioned.team")]
    [InlineData("service", "HostProvisioned.service")]
    public void Describe_NamedLabelOfAHostKeyedSchema_NamesTheEventFields(string label, string expected)
    {
        var fill = LabelSources.Describe(label, ["host"]);

        Assert.Equal(expected, fill.Text);
        Assert.True(fill.ByFields);
    }

    [Fact]
    public void Describe_OtherLabel_OnlyFromTheLabelsObject() =>
        Assert.Equal(new LabelFill("only labels.region of an event", ByFields: false), LabelSources.Describe("region", ["host"]));

    [Fact]
    public void Describe_SchemaKeyedByALabelOwnerChangedLacks_SaysOwnerChangedReachesItOnlyWithThatLabel() =>
        Assert.Equal("HostProvisioned.owner; OwnerChanged.owner only with labels.service", LabelSources.Describe("owner", ["service"]).Text);
}
