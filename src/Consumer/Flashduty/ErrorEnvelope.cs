using System.Text.Json;

namespace FlashdutySync.Flashduty;

/// <summary>
/// What an answer's JSON envelope says of a failure: <c>{"request_id": …, "error": {"code": …, "message": …}}</c>.
/// Read once per attempt by <see cref="FlashdutyAttemptHandler"/> (the code decides retries) and used by the client.
/// </summary>
internal readonly record struct ErrorEnvelope(string? Code, string? Message, string? RequestId)
{
    /// <summary>
    /// The envelope of a body that is a JSON object (after a BOM and white space); nothing for anything else (a raw CSV
    /// download, a proxy's page). An <c>error</c> object without a code gives the code "" — a failure all the same.
    /// </summary>
    public static ErrorEnvelope Read(ReadOnlyMemory<byte> body)
    {
        if (body.Span.StartsWith(System.Text.Encoding.UTF8.Preamble)) body = body[3..];
        var start = body.Length - body.Span.TrimStart(" \t\r\n"u8).Length;
        if (start == body.Length || body.Span[start] != (byte)'{') return default;
        try
        {
            using var json = JsonDocument.Parse(body[start..]);
            var root = json.RootElement;
            var requestId = root.TryGetProperty("request_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
            if (!root.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object) return new ErrorEnvelope(null, null, requestId);
            var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : "";
            var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            return new ErrorEnvelope(code, message, requestId);
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
