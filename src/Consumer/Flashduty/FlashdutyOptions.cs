using System.ComponentModel.DataAnnotations;
using FlashdutySync.Sync;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Flashduty;

/// <summary>How the service reaches Flashduty; section <c>Flashduty</c> (environment: <c>Flashduty__AppKey</c> …).</summary>
public sealed class FlashdutyOptions
{
    public const string SectionName = "Flashduty";

    /// <summary>Base URL of the API. Default <c>https://api.flashcat.cloud</c>.</summary>
    [Required]
    public Uri BaseUrl { get; set; } = new("https://api.flashcat.cloud");

    /// <summary>The account's app key. Required; a secret: it is never logged.</summary>
    // Checked (blank included) by FlashdutyOptionsValidator, which names the key once.
    public string AppKey { get; set; } = "";

    /// <summary>
    /// The mapping schemas to keep in step whose labels are filled by name (24-hex schema ids). With
    /// <see cref="Schemas"/>, at least one schema in all. Default: none.
    /// </summary>
    public List<string> SchemaIds { get; set; } = [];

    /// <summary>Schemas with a label mapping of their own (see <see cref="SchemaOptions"/>). Default: none.</summary>
    public List<SchemaOptions> Schemas { get; set; } = [];

    /// <summary>
    /// Every configured schema with its mapping, in order: <see cref="SchemaIds"/> (by name), then <see cref="Schemas"/>.
    /// Call after validation (a mapping that does not parse is left out here; the validator names it).
    /// </summary>
    public IReadOnlyList<(string SchemaId, LabelMapping Mapping)> ConfiguredSchemas()
    {
        var all = SchemaIds.Select((id, i) => (id, LabelMapping.ByNameAt($"{SectionName}:{nameof(SchemaIds)}:{i}"))).ToList();
        for (var i = 0; i < Schemas.Count; i++)
        {
            if (LabelMapping.Parse(Schemas[i], SchemaPath(i), []) is { } mapping) all.Add((Schemas[i].Id, mapping));
        }

        return all;
    }

    /// <summary>Where schema <paramref name="index"/> of <see cref="Schemas"/> is configured, for messages.</summary>
    public static string SchemaPath(int index) => $"{SectionName}:{nameof(Schemas)}:{index}";

    /// <summary>Row cap per schema id, for schemas whose cap is not the default 10,000.</summary>
    public Dictionary<string, int> RowCaps { get; set; } = [];

    /// <summary>Row cap of the schemas not in <see cref="RowCaps"/>. Default 10,000; range 1–1,000,000.</summary>
    [Range(1, 1_000_000)]
    public int DefaultRowCap { get; set; } = 10_000;

    /// <summary>The account-wide rate limits.</summary>
    [ValidateObjectMembers]
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Retries of 429s, 5xx, time-outs and connection failures.</summary>
    [ValidateObjectMembers]
    public RetryOptions Retry { get; set; } = new();

    /// <summary>Time-out of one attempt. Default 10 s; range 1 s–5 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>The account's budget; every call of the service spends it.</summary>
public sealed class RateLimitOptions
{
    /// <summary>Requests per rolling second. Default 50 (Flashduty's limit); range 1–1,000.</summary>
    [Range(1, 1000)]
    public int PerSecond { get; set; } = 50;

    /// <summary>Requests per rolling minute. Default 1,000 (Flashduty's limit); range 1–60,000.</summary>
    [Range(1, 60_000)]
    public int PerMinute { get; set; } = 1000;

    /// <summary>
    /// Extra time a spent permit stays spent, so that network jitter cannot squeeze more than the limit into
    /// the server's window. Default 100 ms; range 0–5 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan Margin { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>Exponential backoff with jitter; <c>Retry-After</c> is honoured when Flashduty sends it.</summary>
public sealed class RetryOptions
{
    /// <summary>Retries per call before the write is given up for now (it is tried again later). Default 6; range 1–100.</summary>
    [Range(1, 100)]
    public int MaxRetries { get; set; } = 6;

    /// <summary>First backoff. Default 200 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest backoff. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);
}
