
namespace FlashdutySync.Sync;

public static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Schema {SchemaId} loaded: {Rows} rows ({Format}), source labels {SourceLabels}, result labels {ResultLabels}")]
    public static partial void SchemaLoaded(ILogger logger, string schemaId, int rows, string format, string sourceLabels, string resultLabels);

    [LoggerMessage(EventId = 112, Level = LogLevel.Error, Message = "Schema {SchemaId} could not be loaded: {Problem}. It writes nothing and its events wait in RabbitMQ (not ready); trying again every {Interval}")]
    public static partial void LoadFailed(ILogger logger, string schemaId, string problem, TimeSpan interval);

    [LoggerMessage(EventId = 114, Level = LogLevel.Critical, Message = "The writer of schema {SchemaId} failed; its rows in flight are queued again and it restarts after the probe interval (not ready meanwhile)")]
    public static partial void WriterFailed(ILogger logger, string schemaId, Exception exception);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "Schema {SchemaId}: data/upsert answered {Keys} keys for {Docs} docs that do not prove which key is whose (first: {Sample}; request_id {RequestId}); keys are learnt with data/list when rows are deleted")]
    public static partial void KeysDoNotFit(ILogger logger, string schemaId, int keys, int docs, string sample, string? requestId);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Writes to schema {SchemaId} failed ({Endpoint}: HTTP {Status} {Code}, request_id {RequestId}); the rows are kept and tried again in {Delay}")]
    public static partial void WriteFailed(ILogger logger, string schemaId, string endpoint, int status, string? code, string? requestId, TimeSpan delay);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "Writes to schema {SchemaId} are paused: {Reason} (request_id {RequestId}). Events stay in RabbitMQ; the service probes and resumes on its own")]
    public static partial void Paused(ILogger logger, string schemaId, string reason, string? requestId);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Writes to schema {SchemaId} resumed")]
    public static partial void Resumed(ILogger logger, string schemaId);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Flashduty refused a row of schema {SchemaId}: {Code} {Message} (request_id {RequestId}); its events go to the error queue")]
    public static partial void RowRefused(ILogger logger, string schemaId, string? code, string message, string? requestId);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Schema {SchemaId} is nearly full: {Rows} of its {Cap} rows")]
    public static partial void NearlyFull(ILogger logger, string schemaId, int rows, int cap);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information, Message = "Became the active consumer: counting {LastSecond} requests of the last second and {LastMinute} of the last minute as spent by the previous replica")]
    public static partial void TookOver(ILogger logger, int lastSecond, int lastMinute);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "The rate-budget record in RabbitMQ could not be used: {Problem}")]
    public static partial void LedgerUnreadable(ILogger logger, string problem);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Event set aside to the error queue: {Reason}")]
    public static partial void SetAside(ILogger logger, string reason);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "The row journal {Queue} could not be compacted ({Problem}); it is tried again after more appends")]
    public static partial void JournalNotCompacted(ILogger logger, string queue, string problem);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Loaded {Rows} journaled rows and {Tombstones} host tombstones from {Records} records of {Queue}; compacted to {Written} records ({Unreadable} unreadable records moved to {Queue}_unreadable)")]
    public static partial void JournalLoaded(ILogger logger, int rows, int tombstones, int records, string queue, int written, int unreadable);

    [LoggerMessage(EventId = 143, Level = LogLevel.Debug, Message = "Compacted {Queue} in the background: {Records} records to {Written} ({Rows} rows; {Unreadable} unreadable records moved to {Queue}_unreadable)")]
    public static partial void JournalCompacted(ILogger logger, string queue, int records, int written, int rows, int unreadable);

    [LoggerMessage(EventId = 116, Level = LogLevel.Information, Message = "Holding the row journal {Queue}: this replica is the one that writes")]
    public static partial void JournalAcquired(ILogger logger, string queue);

    [LoggerMessage(EventId = 117, Level = LogLevel.Warning, Message = "Another replica holds the row journal (exclusive consumer of {LockQueue}); waiting for it to let go before applying any event")]
    public static partial void JournalBusy(ILogger logger, string lockQueue);

    [LoggerMessage(EventId = 118, Level = LogLevel.Warning, Message = "Lost the row journal ({Why}): writes stop at once, in-flight requests are aborted, and everything in memory is dropped; the next batch activates again")]
    public static partial void Demoted(ILogger logger, string why);

    [LoggerMessage(EventId = 119, Level = LogLevel.Warning, Message = "The row journal could not be appended to ({Problem}); the batch's events stay unacknowledged and it is tried again in {Delay}")]
    public static partial void JournalAppendFailed(ILogger logger, string problem, TimeSpan delay);

    [LoggerMessage(EventId = 121, Level = LogLevel.Information, Message = "Another replica with events in hand asks for the row journal; this one consumes nothing and hands it over cleanly")]
    public static partial void HandingOver(ILogger logger);

    [LoggerMessage(EventId = 145, Level = LogLevel.Information, Message = "Stopped while term {Term} started: it ends without having written, and lets the row journal go")]
    public static partial void StoppedWhileActivating(ILogger logger, long term);

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "Activated (term {Term}): {Rows} journaled rows over {Schemas} schemas, {Tombstones} host tombstones; the previous holder {How}; first write not before {NotBefore:O}")]
    public static partial void Activated(ILogger logger, long term, int rows, int schemas, int tombstones, string how, DateTimeOffset notBefore);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Became the active consumer but could not read {Problem}; no event is applied until it can, trying again in {Delay}")]
    public static partial void ReloadFailed(ILogger logger, string problem, TimeSpan delay);

    [LoggerMessage(EventId = 122, Level = LogLevel.Information, Message = "Drift repair of schema {SchemaId}: {Rows} rows in Flashduty; {Missing} missing, {Differing} with other values and {NotGone} of decommissioned hosts queued to be written again; {Foreign} rows no event set {ForeignFate}")]
    public static partial void Reconciled(ILogger logger, string schemaId, int rows, int missing, int differing, int notGone, int foreign, string foreignFate);

    [LoggerMessage(EventId = 123, Level = LogLevel.Warning, Message = "Drift repair of schema {SchemaId} could not download its rows ({Problem}); it runs again in {Interval}")]
    public static partial void ReconcileFailed(ILogger logger, string schemaId, string problem, TimeSpan interval);


    [LoggerMessage(EventId = 140, Level = LogLevel.Information, Message = "Schema {SchemaId} is filled through its mapping ({ConfigPath}): {Mapping}")]
    public static partial void MappingUsed(ILogger logger, string schemaId, string configPath, string mapping);

    [LoggerMessage(EventId = 141, Level = LogLevel.Warning, Message = "{Warning}")]
    public static partial void MappingWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 144, Level = LogLevel.Warning, Message = "RabbitMQ {Version} drops a quorum queue's message after 20 redeliveries unless a policy says otherwise, and this service returns events to its queue on a lost term and while Flashduty is paused: unless done already, set one on its queues, e.g. rabbitmqctl set_policy flashduty-delivery-limit '^{Queue}' '{{\"delivery-limit\":-1}}' --apply-to quorum_queues (README, 'Running against a RabbitMQ cluster')")]
    public static partial void QuorumDeliveryLimit(ILogger logger, string version, string queue);

    [LoggerMessage(EventId = 142, Level = LogLevel.Warning, Message = "POST /reconcile from {Remote} refused ({Status}): {Reason}")]
    public static partial void ReconcileRefused(ILogger logger, string? remote, int status, string reason);
}
