using System.Diagnostics;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Flashduty;

/// <summary>
/// Runs once per attempt, inside the retry pipeline: spends a permit of the account limiter, opens the
/// attempt's span, and only then puts the app key on the URL, so that nothing above sees it.
/// </summary>
internal sealed class FlashdutyAttemptHandler(AccountRateLimiter limiter, IOptions<FlashdutyOptions> options, SyncMetrics metrics, TimeProvider time)
    : DelegatingHandler
{
    internal static readonly HttpRequestOptionsKey<CallInfo> Call = new("flashduty.call");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.TryGetValue(Call, out var call);
        call ??= new CallInfo("unknown", null, 0, []);
        var attempt = ++call.Attempts;
        using var activity = SyncTelemetry.Source.StartActivity($"flashduty.{call.Operation}", ActivityKind.Client, default(ActivityContext), links: call.Links);
        activity?.SetTag(SyncTelemetry.Tags.Attempt, attempt);
        if (call.SchemaId is not null) activity?.SetTag(SyncTelemetry.Tags.SchemaId, call.SchemaId);
        if (call.Items > 0) activity?.SetTag(call.Operation == "delete" ? SyncTelemetry.Tags.Keys : SyncTelemetry.Tags.Docs, call.Items);

        var waitStart = time.GetTimestamp();
        // Counted until the attempt has ended, whenever Flashduty saw the request within it (see AccountRateLimiter).
        using var permit = await limiter.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var waited = time.GetElapsedTime(waitStart);
        activity?.SetTag(SyncTelemetry.Tags.LimiterWaitMs, waited.TotalMilliseconds);
        metrics.LimiterWait.Record(waited.TotalSeconds);

        var keyless = request.RequestUri!;
        var separator = string.IsNullOrEmpty(keyless.Query) ? "?" : "&";
        request.RequestUri = new Uri(keyless + separator + "app_key=" + Uri.EscapeDataString(options.Value.AppKey));
        var started = time.GetTimestamp();
        // The attempt's time-out starts after the permit: a wait in the limiter's queue is not Flashduty's slowness.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.AttemptTimeout);
        try
        {
            HttpResponseMessage? response = null;
            try
            {
                response = await base.SendAsync(request, timeout.Token).ConfigureAwait(false);
                // The whole body within the attempt's time-out: a body that stalls is a time-out like any other.
                await response.Content.LoadIntoBufferAsync(timeout.Token).ConfigureAwait(false);
                // The code decides whether a failure is retried (FlashdutyErrors), whatever the status: read once per attempt.
                var envelope = ErrorEnvelope.Read(await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false));
                (call.LastErrorCode, call.LastErrorMessage) = (envelope.Code, envelope.Message);
                call.LastRequestId = envelope.RequestId ?? (response.Headers.TryGetValues("Flashcat-Request-Id", out var ids) ? ids.FirstOrDefault() : null);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                response?.Dispose();
                throw new TimeoutException($"Flashduty {call.Operation} did not answer within {options.Value.AttemptTimeout.TotalSeconds:0.###} s");
            }

            var status = (int)response.StatusCode;
            activity?.SetTag(SyncTelemetry.Tags.HttpStatus, status);
            if (call.LastRequestId is not null) activity?.SetTag(SyncTelemetry.Tags.RequestId, call.LastRequestId);
            if (!string.IsNullOrEmpty(call.LastErrorCode)) activity?.SetTag(SyncTelemetry.Tags.ErrorCode, call.LastErrorCode);
            if (status >= 400) activity?.SetStatus(ActivityStatusCode.Error, $"HTTP {status}");
            if ((!response.IsSuccessStatusCode || call.LastErrorCode is not null) && FlashdutyErrors.Classify(status, call.LastErrorCode) == FlashdutyErrorKind.Throttled)
                metrics.Throttled.Add(1, new KeyValuePair<string, object?>("endpoint", call.Operation));
            metrics.Requests.Add(1, new("endpoint", call.Operation), new("status", status));
            return response;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or TimeoutException)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            metrics.Requests.Add(1, new("endpoint", call.Operation), new("status", 0));
            throw;
        }
        finally
        {
            metrics.RequestDuration.Record(time.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("endpoint", call.Operation));
            request.RequestUri = keyless;
        }
    }

    /// <summary>For the retry pipeline: whether a failed answer is worth another attempt, by its code first.</summary>
    internal static bool IsRetryable(HttpResponseMessage response)
    {
        string? code = null;
        if (response.RequestMessage?.Options.TryGetValue(Call, out var call) == true) code = call.LastErrorCode;
        if (response.IsSuccessStatusCode && code is null) return false;
        return FlashdutyErrors.IsRetryable(FlashdutyErrors.Classify((int)response.StatusCode, code));
    }
}

/// <summary>What one logical call carries through its attempts.</summary>
internal sealed class CallInfo(string operation, string? schemaId, int items, IReadOnlyList<ActivityLink> links)
{
    public string Operation { get; } = operation;
    public string? SchemaId { get; } = schemaId;
    public int Items { get; } = items;
    public IReadOnlyList<ActivityLink> Links { get; } = links;
    public int Attempts { get; set; }
    public string? LastRequestId { get; set; }

    /// <summary>The <c>error.code</c> of the last attempt's answer, when it failed ("" for an error without a code).</summary>
    public string? LastErrorCode { get; set; }

    /// <summary>The <c>error.message</c> of the last attempt's answer, when it carried one.</summary>
    public string? LastErrorMessage { get; set; }
}
