using System.Text.Json;

namespace Flashduty.Simulator;

public sealed partial class SimulatorState
{
    /// <summary>
    /// Answers one call to <c>/enrichment/{endpoint}</c> in the order a gateway would: route, method, body size, auth,
    /// content type, body, account rate limit, validation, schema lock, then the effect. Injected faults are drawn by the HTTP layer.
    /// </summary>
    internal async Task<SimAnswer> HandleAsync(string endpoint, string method, string? appKey, string? contentType,
        ReadOnlyMemory<byte> body, FaultDraw fault, CancellationToken ct)
    {
        var requestId = RequestIds.New(Time.GetUtcNow());
        string? schemaId = null;
        var count = 0;
        SimSchema? writing = null;
        try
        {
            var readings = Readings;
            if (!Handlers.ContainsKey(endpoint)) throw ApiError.NoRoute($"no API at /enrichment/mapping/{endpoint}");
            if (!HttpMethods.IsPost(method)) throw new ApiError(400, "MethodNotAllowed", $"{method} is not allowed: every call is POST");
            if (readings.MaxBodyBytes > 0 && body.Length > readings.MaxBodyBytes)
                throw new ApiError(413, "EntityTooLarge", $"the body is {body.Length} bytes, the most is {readings.MaxBodyBytes}");
            if (string.IsNullOrEmpty(appKey) || !_keys.TryGetValue(appKey, out var readOnly))
                throw new ApiError(401, "Unauthorized", "app_key is missing or unknown");
            if (contentType is null || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
                throw new ApiError(400, "InvalidContentType", $"Content-Type must be application/json, not '{contentType}'");

            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(body);
                root = doc.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw ApiError.Invalid($"the body is not valid JSON: {ex.Message}");
            }

            if (root.ValueKind != JsonValueKind.Object) throw ApiError.Invalid("the body must be a JSON object");
            if (root.TryGetProperty("schema_id", out var idElement) && idElement.ValueKind == JsonValueKind.String)
                schemaId = idElement.GetString();

            if (LockedEndpoints.Contains(endpoint) && schemaId is not null && GetSchema(schemaId) is { } target)
            {
                writing = target;
                target.WriteArrived();
            }

            if (!_limiter.TryAcquire(out var retryAfter))
            {
                Stats.Throttled(SimStats.Causes.AccountRate);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                return Answer(endpoint, schemaId, 0, requestId, ApiError.TooFrequent("the account's rate limit is exceeded"),
                    _options.SendRetryAfter ? seconds : null);
            }

            if (WriteEndpoints.Contains(endpoint) && readOnly)
                throw new ApiError(403, "AccessDenied", "this app_key may not write mappings (it lacks the Mappings Manage permission)");

            if (fault.Kind == FaultKind.ServerError)
                return Answer(endpoint, schemaId, 0, requestId, new ApiError(fault.Status, "InternalError", "injected server error"));
            if (fault.Kind == FaultKind.Throttle)
            {
                Stats.Throttled(SimStats.Causes.Injected);
                return Answer(endpoint, schemaId, 0, requestId, ApiError.TooFrequent("injected throttling"));
            }

            var handler = Handlers[endpoint];
            if (writing is null)
            {
                if (fault.Latency > TimeSpan.Zero) await Task.Delay(fault.Latency, Time, ct);
                var result = handler(this, root);
                return Answer(endpoint, result.SchemaId ?? schemaId, result.Count, requestId, result.Data);
            }

            if (!writing.TryEnterWrite())
            {
                Stats.Throttled(SimStats.Causes.SchemaLock);
                return Answer(endpoint, schemaId, 0, requestId, ApiError.Locked(readings.LockConflict, $"schema {schemaId} is being written by another request"));
            }

            try
            {
                if (fault.Latency > TimeSpan.Zero) await Task.Delay(fault.Latency, Time, ct);
                var result = handler(this, root);
                count = result.Count;
                return Answer(endpoint, schemaId, count, requestId, result.Data);
            }
            finally
            {
                writing.ExitWrite();
            }
        }
        catch (ApiError error)
        {
            return Answer(endpoint, schemaId, count, requestId, error);
        }
        finally
        {
            writing?.WriteLeft();
        }
    }

    private SimAnswer Answer(string endpoint, string? schemaId, int count, string requestId, object? dataOrError, int? retryAfter = null)
    {
        var answer = dataOrError switch
        {
            ApiError error => new SimAnswer(error.Status, new { request_id = requestId, error = new { code = error.Code, message = error.Message } }, requestId, retryAfter),
            RawBody raw => new SimAnswer(200, raw, requestId, null),
            _ => new SimAnswer(200, new { request_id = requestId, data = dataOrError }, requestId, null),
        };
        Stats.Record(new RecentRequest(Time.GetUtcNow(), endpoint, schemaId, count, answer.Status,
            (dataOrError as ApiError)?.Code, requestId));
        return answer;
    }
}

/// <summary>An HTTP answer: status, body (a <see cref="RawBody"/> or JSON), the request id for the <c>Flashcat-Request-Id</c> header.</summary>
internal sealed record SimAnswer(int Status, object Body, string RequestId, int? RetryAfterSeconds);
