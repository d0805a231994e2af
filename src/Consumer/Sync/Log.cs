
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

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Schema {SchemaId}: the stamps of {Rows} written rows could not be saved to RabbitMQ ({Problem}); until their next write a stale event redelivered after a restart could overwrite them")]
    public static partial void StampsNotSaved(ILogger logger, string schemaId, int rows, string problem);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Loaded {Rows} row stamps from {Records} records of {Queue}; compacted to {Written} records")]
    public static partial void StampsLoaded(ILogger logger, int rows, int records, string queue, int written);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Became the active consumer but could not read {Problem}; no event is applied until it can, trying again in {Delay}")]
    public static partial void ReloadFailed(ILogger logger, string problem, TimeSpan delay);

    [LoggerMessage(EventId = 115, Level = LogLevel.Error, Message = "Became the active consumer but could not read the rows of {Problem}; that schema goes on with what it read at start, and its first write will say what is wrong")]
    public static partial void ReloadSkipped(ILogger logger, string problem);
}
