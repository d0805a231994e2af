using System.Text.RegularExpressions;
using FlashdutySync.Sync;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Flashduty;

[OptionsValidator]
public sealed partial class FlashdutyOptionsDataValidator : IValidateOptions<FlashdutyOptions>;

/// <summary>Rules across fields that data annotations cannot say.</summary>
public sealed partial class FlashdutyOptionsValidator : IValidateOptions<FlashdutyOptions>
{
    [GeneratedRegex("^[0-9a-f]{24}$")]
    private static partial Regex SchemaId();

    public ValidateOptionsResult Validate(string? name, FlashdutyOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AppKey))
            failures.Add("Flashduty:AppKey (environment Flashduty__AppKey) is required");
        for (var i = 0; i < options.SchemaIds.Count; i++)
        {
            if (!SchemaId().IsMatch(options.SchemaIds[i]))
                failures.Add($"Flashduty:SchemaIds:{i} is '{options.SchemaIds[i]}', not a schema id (24 lowercase hex characters)");
        }

        if (options.SchemaIds.Distinct().Count() != options.SchemaIds.Count)
            failures.Add("Flashduty:SchemaIds names a schema twice");
        if (options.SchemaIds.Count == 0 && options.Schemas.Count == 0)
            failures.Add("Flashduty:SchemaIds needs at least one schema id (environment Flashduty__SchemaIds__0), or Flashduty:Schemas one schema with a mapping (Flashduty__Schemas__0__Id)");
        for (var i = 0; i < options.Schemas.Count; i++)
        {
            var schema = options.Schemas[i];
            var path = FlashdutyOptions.SchemaPath(i);
            if (!SchemaId().IsMatch(schema.Id))
                failures.Add($"{path}:Id is '{schema.Id}', not a schema id (24 lowercase hex characters)");
            else if (options.SchemaIds.Contains(schema.Id) || options.Schemas.Take(i).Any(s => s.Id == schema.Id))
                failures.Add($"{path}:Id: schema {schema.Id} is configured twice (in Flashduty:SchemaIds or an earlier Flashduty:Schemas entry); configure each schema once");
            LabelMapping.Parse(schema, path, failures);
        }

        if (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("http" or "https"))
            failures.Add($"Flashduty:BaseUrl '{options.BaseUrl}' must be an absolute http(s) URL");
        else if (!string.IsNullOrEmpty(options.BaseUrl.Query))
            failures.Add("Flashduty:BaseUrl must not carry a query: the app key goes in Flashduty:AppKey");
        foreach (var (schema, cap) in options.RowCaps)
        {
            if (cap < 1) failures.Add($"Flashduty:RowCaps:{schema} is {cap}; a row cap is at least 1");
        }

        if (options.RateLimit.PerMinute < options.RateLimit.PerSecond)
            failures.Add("Flashduty:RateLimit:PerMinute is below PerSecond");
        if (options.Retry.MaxDelay < options.Retry.BaseDelay)
            failures.Add("Flashduty:Retry:MaxDelay is below Retry:BaseDelay");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
