using System.ComponentModel.DataAnnotations;

namespace FlashdutySync.Messaging;

/// <summary>The broker and the service's queues; section <c>RabbitMq</c>.</summary>
public sealed class RabbitMqOptions
{
    public const string SectionName = "RabbitMq";

    /// <summary>Broker address with credentials. Default <c>amqp://guest:guest@localhost:5672/</c>. A secret: never logged.</summary>
    [Required]
    public Uri Uri { get; set; } = new("amqp://guest:guest@localhost:5672/");

    /// <summary>The service's queue, bound to the three event exchanges; <c>_error</c> and <c>_wait</c> queues go beside it. Default <c>flashduty-mapping-sync</c>.</summary>
    [Required, RegularExpression("^[A-Za-z0-9._-]{1,200}$")]
    public string QueueName { get; set; } = "flashduty-mapping-sync";

    /// <summary>
    /// Most events in one batch. Default 100: a batch is acknowledged once all its events are settled, so small
    /// batches free their slots sooner. Range 1–10,000.
    /// </summary>
    [Range(1, 10_000)]
    public int BatchMessageLimit { get; set; } = 100;

    /// <summary>How long a batch waits to fill: the latency it adds at light load. Default 10 ms; range 1 ms–10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan BatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Batches of one event type in progress at once. Limit × concurrency is how many events the service holds
    /// unacknowledged while their rows coalesce (the prefetch); more means fewer requests in a burst and more
    /// memory. Default 200 (20,000 events); range 1–1,000.
    /// </summary>
    [Range(1, 1000)]
    public int BatchConcurrency { get; set; } = 200;

    /// <summary>Use RabbitMQ's single-active-consumer, so that of N replicas exactly one consumes. Default true.</summary>
    public bool SingleActiveConsumer { get; set; } = true;

    public string ErrorQueue => QueueName + "_error";
    public string WaitQueue => QueueName + "_wait";
}
