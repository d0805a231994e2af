using System.Diagnostics;

namespace FlashdutySync.Telemetry;

/// <summary>The service's ActivitySource and the names of its spans and attributes.</summary>
public static class SyncTelemetry
{
    public const string ServiceName = "flashduty-mapping-sync";
    public const string SourceName = "FlashdutyMappingSync";

    public static readonly ActivitySource Source = new(SourceName);

    public static class Tags
    {
        public const string RequestId = "flashduty.request_id";
        public const string SchemaId = "flashduty.schema_id";
        public const string Docs = "flashduty.docs";
        public const string Keys = "flashduty.keys";
        public const string Attempt = "flashduty.attempt";
        public const string LimiterWaitMs = "flashduty.limiter_wait_ms";
        public const string ErrorCode = "flashduty.error_code";
        public const string HttpStatus = "http.response.status_code";
        public const string BatchCount = "messaging.batch.message_count";
    }
}
