using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Integration;

/// <summary>#13 defect 1: a standby that takes over soon after its start must not trust what it read at start.</summary>
[Collection(BrokerCollection.Name)]
public sealed class RollingDeployTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StandbyTakingOverWithinSecondsOfItsStart_SeesWhatTheActiveOneWrote_AndNewerEventsLandCorrectly()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var hosts = Enumerable.Range(0, 60).Select(i => $"h{i:00}").ToList();
        var active = await h.StartServiceAsync();
        foreach (var host in hosts) await h.ProvisionAsync(host, "first", "sre", "api", T0);
        await Eventually.UntilAsync(() => hosts.All(x => h.Rows(SyncHarness.HostSchema).GetValueOrDefault(x)?["owner"] == "first"), Deadline, "the first owners");
        await h.DrainedAsync(Deadline);

        // The new version starts beside the old one (a rolling deploy): it reads the rows, owned by "first".
        await h.StartServiceAsync();
        // The old one writes new owners, and is stopped a second later.
        foreach (var host in hosts) await h.OwnerChangedAsync(host, "second", T0.AddMinutes(1));
        await Eventually.UntilAsync(() => hosts.All(x => h.Rows(SyncHarness.HostSchema)[x]["owner"] == "second"), Deadline, "the second owners");
        await h.StopServiceAsync(active);

        // Newer events set the first owners back: the new version must write them, not take them for what Flashduty holds.
        foreach (var host in hosts) await h.OwnerChangedAsync(host, "first", T0.AddMinutes(2));
        await Eventually.UntilAsync(() => hosts.All(x => h.Rows(SyncHarness.HostSchema)[x]["owner"] == "first"), Deadline,
            () => $"{hosts.Count(x => h.Rows(SyncHarness.HostSchema)[x]["owner"] != "first")} of {hosts.Count} rows still wrong");
        await h.DrainedAsync(Deadline);
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());
    }
}
