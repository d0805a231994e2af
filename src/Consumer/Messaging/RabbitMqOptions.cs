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

    /// <summary>Most events in one batch. Default 1,000; range 1–10,000.</summary>
    [Range(1, 10_000)]
    public int BatchMessageLimit { get; set; } = 1000;

    /// <summary>How long a batch waits to fill: the latency it adds at light load. Default 20 ms; range 1 ms–10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan BatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Batches of one event type in progress at once; more lets events flow while writes are in flight. Default 4; range 1–64.</summary>
    [Range(1, 64)]
    public int BatchConcurrency { get; set; } = 4;

    /// <summary>Use RabbitMQ's single-active-consumer, so that of N replicas exactly one consumes. Default true.</summary>
    public bool SingleActiveConsumer { get; set; } = true;

    public string ErrorQueue => QueueName + "_error";
    public string WaitQueue => QueueName + "_wait";
}
