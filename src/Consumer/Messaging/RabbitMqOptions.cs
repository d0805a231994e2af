using System.ComponentModel.DataAnnotations;

namespace FlashdutySync.Messaging;

/// <summary>The broker and the service's queues; section <c>RabbitMq</c>.</summary>
public sealed class RabbitMqOptions
{
    public const string SectionName = "RabbitMq";

    /// <summary>Broker address with credentials. Default <c>amqp://guest:guest@localhost:5672/</c>. A secret: never logged.</summary>
    [Required]
    public Uri Uri { get; set; } = new("amqp://guest:guest@localhost:5672/");

    /// <summary>
    /// A cluster's nodes, <c>host:port</c> separated by commas (<c>rabbit1:5672,rabbit2:5672,rabbit3:5672</c>); the user,
    /// password, virtual host and TLS come from <see cref="Uri"/>, whose own host is then not used. Every connection of
    /// the service tries them in turn and, when its node goes, reconnects to another. Default empty: <see cref="Uri"/>'s host.
    /// </summary>
    public string? Nodes { get; set; }

    /// <summary>
    /// The AMQP heartbeat of MassTransit's connection and of the service's own (the journal lock keeps 10 s: it sets how
    /// soon a holder cut off from the broker stops writing). A connection whose node went is given up after about three
    /// of these. Default 5 s, not the client's 60 s; range 5 s–60 s (RabbitMQ advises against less than 5 s: a process
    /// starved of CPU for ~10 s would then lose its connection, and MassTransit's events in hand would be redelivered).
    /// </summary>
    /// <remarks>
    /// Why so short: with RabbitMQ.Client 7.2.2, a node that goes kills the connection's socket write loop, and frames
    /// queued after it (MassTransit acknowledging the batches in hand, hundreds at once) fill the client's 128-frame
    /// outgoing buffer; the broker's connection.close is then answered through that full buffer, so the client's main
    /// loop blocks and the connection never learns that it is closed (rabbitmq-dotnet-client#1930, open upstream when
    /// this was written). MassTransit's acknowledgements wait and its consumer, waiting for them, does not reconnect
    /// until the missed-heartbeat timer closes the connection, three heartbeats later (cluster test; a dump of the test
    /// process: 810 deliveries awaiting <c>BasicAck</c>, the main loop in <c>HandleConnectionCloseAsync</c>).
    /// </remarks>
    [Range(typeof(TimeSpan), "00:00:05", "00:01:00")]
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The type of every queue the service declares: <c>classic</c> (default; one node) or <c>quorum</c> (replicated
    /// over the cluster, survives the loss of a minority of nodes). An existing queue of the other type stops the
    /// service at start with what to run (<c>Consumer migrate-queues</c>).
    /// </summary>
    public QueueType QueueType { get; set; } = QueueType.Classic;

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
    /// <summary>The journal's lock: an exclusive consumer on a classic queue, or with quorum queues an exclusive queue of another name (see RabbitMqRowJournal.Lock).</summary>
    public string LockQueue => QueueName + (QueueType == QueueType.Quorum ? "_holder" : "_lock");

    /// <summary>Journal records a compaction could not read, set aside whole for an operator.</summary>
    public string JournalUnreadableQueue => JournalQueue + "_unreadable";

    /// <summary>The service's queue and every queue it keeps beside it.</summary>
    public IReadOnlyList<string> Queues => [QueueName, ErrorQueue, WaitQueue, BudgetQueue, JournalQueue, LockQueue, JournalUnreadableQueue];

    /// <summary>The queues that take <see cref="QueueType"/> (the lock queue is never a quorum queue: see RabbitMqRowJournal.Lock).</summary>
    public IReadOnlyList<string> TypedQueues => [QueueName, ErrorQueue, WaitQueue, BudgetQueue, JournalQueue, JournalUnreadableQueue];

    /// <summary>Set by <see cref="BindFrom"/> when <c>RabbitMq:Uri</c> is no URI: the validator refuses with it.</summary>
    internal bool UriUnreadable { get; private set; }

    /// <summary>
    /// Binds the section, <c>Uri</c> apart: the configuration binder's own refusal of a value it cannot convert quotes
    /// the value, and a URI that does not parse (a password with an unencoded <c>#</c>, several URIs run together)
    /// would put its password in the start-up error. Such a URI is left at its default and reported by the validator.
    /// </summary>
    public static void BindFrom(IConfigurationSection section, RabbitMqOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        var rest = section.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null && !string.Equals(kv.Key, nameof(Uri), StringComparison.OrdinalIgnoreCase));
        new ConfigurationBuilder().AddInMemoryCollection(rest).Build().Bind(options);
        if (section[nameof(Uri)] is not { } text) return;
        if (System.Uri.TryCreate(text, UriKind.Absolute, out var uri)) options.Uri = uri;
        else options.UriUnreadable = true;
    }

    /// <summary>The value of <c>x-queue-type</c>.</summary>
    public string QueueTypeArgument => QueueType == QueueType.Quorum ? "quorum" : "classic";

    /// <summary>The same options with the other queue type: the arguments the service's queues have before a migration.</summary>
    internal RabbitMqOptions WithOtherQueueType()
    {
        var other = (RabbitMqOptions)MemberwiseClone();
        other.QueueType = QueueType == QueueType.Quorum ? QueueType.Classic : QueueType.Quorum;
        return other;
    }

    /// <summary>Declaration arguments of a service queue: the type, plus the queue's own.</summary>
    public Dictionary<string, object?> QueueArguments(IReadOnlyDictionary<string, object?>? own = null)
    {
        var arguments = new Dictionary<string, object?> { ["x-queue-type"] = QueueTypeArgument };
        foreach (var (key, value) in own ?? new Dictionary<string, object?>()) arguments[key] = value;
        return arguments;
    }
}

/// <summary>The type of the service's queues (<see cref="RabbitMqOptions.QueueType"/>).</summary>
public enum QueueType
{
    Classic,
    Quorum,
}
