using FlashdutySync.Messaging;

namespace FlashdutySync.Tests.Messaging;

/// <summary>Review of issue #15: RabbitMq:Nodes' validation must never echo a password.</summary>
public sealed class BrokerNodesReviewTests
{
    /// <summary>
    /// A newcomer writes the nodes as URIs (as many clients take them, and as `cluster.sh up`/`uri` prints them):
    /// the validation message quotes the entry whole, password included, and the host logs it at start.
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
    }
}

/// <summary>Review of issue #15: what `cluster.sh uri` prints is said to go into RabbitMq__Uri "as it is".</summary>
public sealed class ClusterUriReviewTests
{
    /// <summary>
    /// scripts/cluster.sh's header says RabbitMq__Uri takes its comma-separated URIs as they are. It does not (one URI,
    /// whose path, and so its virtual host, swallows the other URIs and their passwords), yet the validator accepts it,
    /// and the first connection then fails with RabbitMQ.Client's ArgumentException "Multiple segments in path of AMQP URI: /, ,amqp:/, /, svc:s3cr3t-pass@localhost:5682/, …", which the host logs.
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
    }
}
