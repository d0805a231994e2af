using FlashdutySync.Messaging;

namespace FlashdutySync.Tests.Messaging;

/// <summary>RabbitMQ 4.x drops a quorum queue's message after 20 redeliveries by default: the start warns on it, and only there.</summary>
public sealed class QuorumDeliveryLimitTests
{
    [Theory]
    [InlineData("4.0.5", QueueType.Quorum, true)]
    [InlineData("4.1.0-rc.1", QueueType.Quorum, true)]
    [InlineData("3.13.7", QueueType.Quorum, false)]
    [InlineData("3.10.8", QueueType.Quorum, false)]
    [InlineData("4.0.5", QueueType.Classic, false)]
    [InlineData(null, QueueType.Quorum, false)]
    [InlineData("unknown", QueueType.Quorum, false)]
    public void TheWarning_IsForQuorumQueuesOnRabbitMq4AndLater(string? version, QueueType type, bool applies) =>
        Assert.Equal(applies, ServiceQueues.QuorumDeliveryLimitApplies(version, type));
}
