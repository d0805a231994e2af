using System.Globalization;
using FlashdutySync.Flashduty;
using FlashdutySync.Messaging;
using FlashdutySync.Sync;

namespace FlashdutySync.Check;

/// <summary>
/// One run of <c>check</c>: <c>schema/list</c> once (the key is accepted, and each schema's labels), then each
/// configured schema (see <see cref="SchemaCheck"/>): at most 2 + 3 × schemas requests, all through the account limiter.
/// </summary>
internal sealed class CheckRun(FlashdutyClient client, AccountRateLimiter limiter, FlashdutyOptions flashduty, SyncOptions sync, RabbitMqOptions queues,
    CheckReport report)
{
    /// <summary>The most requests a check sends, retries aside: schema/list, then per schema schema/info, data/download and data/list.</summary>
    public static int Budget(int schemas) => 2 + 3 * schemas;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var schemas = flashduty.ConfiguredSchemas();
        report.Line(string.Create(CultureInfo.InvariantCulture,
            $"check: Flashduty at {flashduty.BaseUrl}, {schemas.Count} schema(s) in Flashduty:SchemaIds and Flashduty:Schemas; read-only, through the service's limiter ({flashduty.RateLimit.PerSecond}/s, {flashduty.RateLimit.PerMinute}/min), at most {Budget(schemas.Count)} requests"));
        SchemaList list;
        try
        {
            list = await client.ListSchemasAsync(ct);
        }
        catch (FlashdutyApiException ex)
        {
            report.Problem($"schema/list failed, so nothing else was tried: {SchemaCheck.Explain(ex)}");
            return report.Finish(limiter.Acquired);
        }

        report.Line($"key: accepted (schema/list names {list.Items.Count} of the account's {list.Total} schema(s))");
        report.Line("  note: check only reads; whether the key may write (the \"Mappings Manage\" permission) shows at the service's first write");
        var check = new SchemaCheck(client, flashduty, sync, queues, report);
        foreach (var (schemaId, mapping) in schemas)
        {
            await check.RunAsync(schemaId, mapping, list.Items.FirstOrDefault(s => s.SchemaId == schemaId), ct);
        }

        return report.Finish(limiter.Acquired);
    }
}
