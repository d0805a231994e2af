using System.Text.RegularExpressions;

namespace Flashduty.Simulator;

/// <summary>The documented rules of schemas and labels.</summary>
internal static partial class SchemaRules
{
    public const int MaxValueLength = 2048;
    public const int MaxDocs = 1000;
    public const int MaxKeys = 100;

    [GeneratedRegex("^[a-z][a-z0-9_]{0,39}$")]
    public static partial Regex LabelName();

    [GeneratedRegex("^[0-9a-f]{24}$")]
    private static partial Regex SchemaIdPattern();

    /// <summary>A value's length in the unit the limit of <see cref="MaxValueLength"/> is counted in.</summary>
    public static int ValueLength(string value, ValueLimitUnit unit) => unit == ValueLimitUnit.Utf8Bytes
        ? System.Text.Encoding.UTF8.GetByteCount(value)
        : value.EnumerateRunes().Count();

    public static string UnitName(ValueLimitUnit unit) => unit == ValueLimitUnit.Utf8Bytes ? "UTF-8 bytes" : "characters";

    public static bool IsSchemaId(string? id) => id is not null && SchemaIdPattern().IsMatch(id);

    public static void ValidateSchema(string? name, IReadOnlyList<string> source, IReadOnlyList<string> result, string? description)
    {
        if (string.IsNullOrWhiteSpace(name)) throw ApiError.Invalid("schema_name is required");
        if (name.Length > 39) throw ApiError.Invalid($"schema_name is {name.Length} characters long, the most is 39");
        if (source.Count is < 1 or > 3) throw ApiError.Invalid($"source_labels has {source.Count} labels, it must have 1 to 3");
        if (result.Count is < 1 or > 10) throw ApiError.Invalid($"result_labels has {result.Count} labels, it must have 1 to 10");
        foreach (var label in source.Concat(result))
        {
            if (!LabelName().IsMatch(label)) throw ApiError.Invalid($"label name '{label}' does not match ^[a-z][a-z0-9_]{{0,39}}$");
        }

        var overlap = source.Intersect(result).ToList();
        if (overlap.Count > 0) throw ApiError.Invalid($"labels {string.Join(", ", overlap)} are both source and result labels");
        if (source.Distinct().Count() != source.Count || result.Distinct().Count() != result.Count)
            throw ApiError.Invalid("a label is named twice");
        if (description is { Length: > 500 }) throw ApiError.Invalid($"description is {description.Length} characters long, the most is 500");
    }
}
