using System.Text.Json;

namespace Flashduty.Simulator;

/// <summary>Strict readers of request fields: a wrong type is a 400 naming the field.</summary>
internal static class Json
{
    public static string RequiredString(JsonElement body, string name) =>
        OptionalString(body, name) ?? throw ApiError.Invalid($"{name} is required");

    public static string? OptionalString(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw ApiError.Invalid($"{name} must be a string");
    }

    public static int? OptionalInt(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw ApiError.Invalid($"{name} must be an integer");
    }

    public static List<string> StringArray(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Array)
            throw ApiError.Invalid($"{name} is required and must be an array of strings");
        return v.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String
            ? e.GetString()!
            : throw ApiError.Invalid($"{name}[{i}] must be a string")).ToList();
    }
}
