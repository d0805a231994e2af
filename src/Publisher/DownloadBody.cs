using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InventoryPublisher;

/// <summary>
/// Reads the CSV text out of a <c>data/download</c> answer, whichever shape the API gives it (the reference contradicts
/// itself): the JSON envelope with the text as <c>data</c>, or a raw <c>text/csv</c> / <c>application/octet-stream</c>
/// body, with or without a UTF-8 BOM, CRLF or LF line ends. An answer that is none of these is an error, never an empty schema.
/// </summary>
internal static class DownloadBody
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The CSV text (header row first, BOM removed), or an <see cref="InvalidDataException"/> saying why the answer is not one.</summary>
    public static string CsvText(string? mediaType, byte[] body, out string? requestId)
    {
        ArgumentNullException.ThrowIfNull(body);
        requestId = null;
        mediaType = mediaType?.ToLowerInvariant();
        string text;
        if (IsJson(mediaType, body))
        {
            var root = Parse(body) ?? throw new InvalidDataException("the answer is JSON null, not an envelope");
            requestId = (root["request_id"] as JsonValue)?.TryGetValue<string>(out var id) == true ? id : null;
            if (root["error"] is { } error) throw new InvalidDataException($"the answer is an error: {error["code"]} {error["message"]}");
            if (root["data"] is not JsonValue data || !data.TryGetValue<string>(out var csv))
                throw new InvalidDataException("the JSON answer has no CSV text as its data");
            text = csv;
        }
        else if (mediaType is null or "text/csv" or "application/octet-stream")
        {
            text = Decode(body);
        }
        else
        {
            throw new InvalidDataException($"the answer is {mediaType}, not CSV (text/csv or application/octet-stream) nor the JSON envelope");
        }

        text = text.TrimStart('\uFEFF');
        if (text.Trim().Length == 0) throw new InvalidDataException("the answer has no header row: a schema's CSV always has one");
        return text;
    }

    /// <summary>The error envelope's code and message of a failed answer, when it is one.</summary>
    public static string Describe(byte[] body)
    {
        try
        {
            var root = Parse(body);
            return $"{root?["error"]?["code"]} {root?["error"]?["message"]} (request_id {root?["request_id"]})";
        }
        catch (InvalidDataException)
        {
            return $"(not the JSON error envelope: {body.Length} bytes)";
        }
    }

    private static bool IsJson(string? mediaType, byte[] body)
    {
        if (mediaType is not null) return mediaType is "application/json" || mediaType.EndsWith("+json", StringComparison.Ordinal);
        var start = body.AsSpan();
        if (start.StartsWith(Encoding.UTF8.Preamble)) start = start[Encoding.UTF8.Preamble.Length..];
        start = start.TrimStart(" \t\r\n"u8);
        return start.Length > 0 && start[0] == (byte)'{';
    }

    private static JsonNode? Parse(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"the answer says it is JSON but is not: {ex.Message}", ex);
        }
    }

    private static string Decode(byte[] body)
    {
        try
        {
            return StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException("the CSV answer is not UTF-8", ex);
        }
    }
}
