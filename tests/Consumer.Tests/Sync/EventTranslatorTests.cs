using FlashdutySync.Sync;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Sync;

public sealed class EventTranslatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ValueHoldingTheKeySeparator_IsRefused_NamingTheField()
    {
        // (env "x\u001fy", host "z") and (env "x", host "y\u001fz") would key one row within the service.
        var ex = Assert.Throws<InvalidEventException>(() => EventTranslator.Translate(new HostProvisioned
        {
            Host = "z", Owner = "o", OccurredAt = T0, EventId = "ev-1", Labels = new Dictionary<string, string> { ["env"] = "x\u001fy" },
        }));
        Assert.Contains("labels.env", ex.Message);
        Assert.Contains("U+001F", ex.Message);
        Assert.Throws<InvalidEventException>(() => EventTranslator.Translate(new OwnerChanged { Host = "y\u001fz", Owner = "o", OccurredAt = T0 }));
    }
}
