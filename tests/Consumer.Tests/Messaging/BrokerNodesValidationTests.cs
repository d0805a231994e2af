using FlashdutySync.Messaging;

namespace FlashdutySync.Tests.Messaging;

/// <summary>RabbitMq:Nodes and RabbitMq:Uri: refused with a message that names what is wrong and never echoes a password (review of #15).</summary>
public sealed class BrokerNodesValidationTests
{
    /// <summary>
    /// A newcomer writes the nodes as URIs (as many clients take them): the message, which the host logs at start, once
    /// quoted the entry whole, password included.
    /// </summary>
    [Fact]
    public void Validate_NodesGivenAsUris_RefusesWithoutEchoingThePassword()
    {
        var options = new RabbitMqOptions
        {
            Uri = new Uri("amqp://svc:s3cr3t-pass@rabbit1:5672/prod"),
            Nodes = "amqp://svc:s3cr3t-pass@rabbit1:5672/prod,amqp://svc:s3cr3t-pass@rabbit2:5672/prod",
        };

        var result = new RabbitMqOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.DoesNotContain("s3cr3t-pass", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("entry 1 of 2 is a URI", result.FailureMessage, StringComparison.Ordinal);
    }

    /// <summary>
    /// Several URIs in RabbitMq__Uri (as `cluster.sh uri` prints them) were accepted, and the first connection then
    /// failed with RabbitMQ.Client's "Multiple segments in path of AMQP URI: …", every other URI's password in it.
    /// </summary>
    [Fact]
    public void Validate_UriAsPrintedByClusterShUri_IsRefusedWithoutEchoingThePassword()
    {
        var options = new RabbitMqOptions
        {
            Uri = new Uri("amqp://svc:s3cr3t-pass@localhost:5681/,amqp://svc:s3cr3t-pass@localhost:5682/,amqp://svc:s3cr3t-pass@localhost:5683/"),
        };

        var result = new RabbitMqOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, "a comma-separated list of URIs in RabbitMq:Uri is accepted");
        Assert.DoesNotContain("s3cr3t-pass", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("RabbitMq:Nodes", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rabbit1:5672,svc:s3cr3t-pass", "entry 2 of 2 is not host:port")]
    [InlineData("rabbit1:99999", "entry 1 of 1 is not host:port")]
    public void Validate_ANodeThatIsNotHostPort_IsNamedByItsPlace_NotQuoted(string nodes, string expected)
    {
        var result = new RabbitMqOptionsValidator().Validate(null, new RabbitMqOptions { Uri = new Uri("amqp://svc:s3cr3t-pass@rabbit1:5672/prod"), Nodes = nodes });

        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-pass", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OneUriWithAVirtualHost_AndNodesAsHostPort_IsAccepted()
    {
        var result = new RabbitMqOptionsValidator().Validate(null, new RabbitMqOptions { Uri = new Uri("amqp://svc:pw@rabbit1:5672/prod"), Nodes = "rabbit1:5672, rabbit2, rabbit3:5673" });

        Assert.True(result.Succeeded, result.FailureMessage);
    }
}
