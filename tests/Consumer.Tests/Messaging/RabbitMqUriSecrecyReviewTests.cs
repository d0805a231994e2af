using FlashdutySync.Messaging;

namespace FlashdutySync.Tests.Messaging;

/// <summary>
/// Second review of #15's RabbitMq:Uri validation: a URI that does not parse still reaches the operator whole, password
/// included (the configuration binder quotes the value it could not convert), and a valid URI whose password holds a
/// comma is refused as "several URIs".
/// </summary>
public sealed class RabbitMqUriSecrecyReviewTests
{
    /// <summary>
    /// Several URIs without trailing slashes (as many clients take a cluster) are no URI at all to System.Uri: the
    /// binder's "Failed to convert configuration value '…' at 'RabbitMq:Uri'" carries every password, and
    /// migrate-queues prints that message.
    /// </summary>
    [Fact]
    public async Task MigrateQueues_AUriThatDoesNotParse_IsRefusedWithoutEchoingThePassword()
    {
        var output = new StringWriter();

        var exit = await MigrateQueuesCommand.RunAsync(["--to", "quorum"], output, c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RabbitMq:Uri"] = "amqp://svc:s3cr3t-pass@rabbit1:5672,amqp://svc:s3cr3t-pass@rabbit2:5672",
        }));

        Assert.Equal(2, exit);
        Assert.DoesNotContain("s3cr3t-pass", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A comma is a valid character of a URI's user information (RFC 3986 sub-delims), and RabbitMQ.Client takes it.</summary>
    [Fact]
    public void Validate_OneUriWhosePasswordHoldsAComma_IsAccepted()
    {
        var result = new RabbitMqOptionsValidator().Validate(null, new RabbitMqOptions { Uri = new Uri("amqp://svc:pa,ss@rabbit1:5672/prod") });

        Assert.True(result.Succeeded, result.FailureMessage);
    }
}
