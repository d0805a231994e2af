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
    /// Most events in one batch. Default 50: a batch is acknowledged once all its events are settled, so small
    /// batches free their slots sooner; MassTransit's per-batch cost rises below ~25. On a 300k backlog (benchmark,
    /// same 20,000-event window) 100 × 200 drained 13.5–15.3k events/s, 50 × 400 16.6–18.4k, 25 × 800 16.6–17.9k,
    /// 10 × 2,000 15.9k. Range 1–10,000.
    /// </summary>
    [Range(1, 10_000)]
    public int BatchMessageLimit { get; set; } = 50;

    /// <summary>How long a batch waits to fill: the latency it adds at light load. Default 10 ms; range 1 ms–10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan BatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Batches of one event type in progress at once. Limit × concurrency is how many events the service holds
    /// unacknowledged while their rows coalesce (the prefetch): more means fewer requests in a burst and more memory
    /// (benchmark window sweep, bench/window-sweep.md). Default 100 (5,000 events): ~300 MB peak and ~60 requests for a
    /// 200,000-event burst over 5,000 hosts; 400 (20,000 events) needs ~30 requests and ~600 MB. Range 1–5,000.
    /// </summary>
    [Range(1, 5000)]
    public int BatchConcurrency { get; set; } = 100;

    /// <summary>Use RabbitMQ's single-active-consumer, so that of N replicas exactly one consumes. Default true.</summary>
    public bool SingleActiveConsumer { get; set; } = true;

    public string ErrorQueue => QueueName + "_error";
    public string WaitQueue => QueueName + "_wait";
    public string BudgetQueue => QueueName + "_budget";
    public string JournalQueue => QueueName + "_journal";
    public string LockQueue => QueueName + "_lock";

    /// <summary>Journal records a compaction could not read, set aside whole for an operator.</summary>
    public string JournalUnreadableQueue => JournalQueue + "_unreadable";

    /// <summary>The service's queue and every queue it keeps beside it.</summary>
    public IReadOnlyList<string> Queues => [QueueName, ErrorQueue, WaitQueue, BudgetQueue, JournalQueue, LockQueue, JournalUnreadableQueue];
}
