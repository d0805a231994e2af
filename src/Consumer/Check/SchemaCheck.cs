using System.Globalization;
using FlashdutySync.Flashduty;
using FlashdutySync.Messaging;
using FlashdutySync.Sync;

namespace FlashdutySync.Check;

/// <summary>
/// Checks one configured schema with at most three requests: <c>schema/info</c> only when <c>schema/list</c> did
/// not name it, <c>data/download</c> (rows, fill, the answer's shape) and one page of <c>data/list</c> (sample keys;
/// it also tells an empty download from an empty schema). Then says which event fields fill each label.
/// </summary>
internal sealed class SchemaCheck(FlashdutyClient client, FlashdutyOptions flashduty, SyncOptions sync, RabbitMqOptions queues, CheckReport report)
{
    public const int SampleSize = 5;
    private const string HostLabel = "host";
    private const int ShownChars = 60;

    public async Task RunAsync(string schemaId, LabelMapping mapping, SchemaInfo? listed, CancellationToken ct)
    {
        report.Line();
        report.Line($"schema {schemaId} ({mapping.ConfigPath})");
        // A list item without labels (the list's items are not documented field by field) is asked again.
        var info = listed is { SourceLabels.Count: > 0 } ? listed : await InfoAsync(schemaId, mapping.ConfigPath, ct);
        if (info is null) return;
        IReadOnlyList<string> source = info.SourceLabels ?? [];
        IReadOnlyList<string> result = info.ResultLabels ?? [];
        report.Line($"  name: {info.SchemaName}");
        report.Line($"  source labels: {string.Join(", ", source)}");
        report.Line($"  result labels: {string.Join(", ", result)}");
        var labels = source.Concat(result).ToList();
        await RowsAsync(schemaId, source, labels, ct);
        Fills(schemaId, mapping, source, result);
    }

    /// <summary>What an operator should read of a failed call: the action to take when there is one, else the failure.</summary>
    internal static string Explain(FlashdutyApiException ex) =>
        FlashdutyErrors.OperatorAction(ex.Kind, ex.Code) is { } action ? $"{action} (request_id {ex.RequestId ?? "none"})"
        : ex.IsTransient ? $"{ex.Message}, still after the service's retries: Flashduty, or the network to it, is failing; check Flashduty__BaseUrl and try again"
        : ex.Message;

    private async Task<SchemaInfo?> InfoAsync(string schemaId, string configPath, CancellationToken ct)
    {
        try
        {
            if (await client.GetSchemaInfoAsync(schemaId, ct) is { } info) return info;
        }
        catch (FlashdutyApiException ex) when (ex.Kind != FlashdutyErrorKind.NotFound)
        {
            report.Problem($"schema {schemaId}: schema/info failed: {Explain(ex)}");
            return null;
        }
        catch (FlashdutyApiException)
        {
            // ResourceNotFound says the same as data: null.
        }

        report.Problem($"schema {schemaId} does not exist ({configPath}): schema/list does not name it and schema/info finds none; create it in Flashduty or fix the id");
        return null;
    }

    private async Task RowsAsync(string schemaId, IReadOnlyList<string> source, List<string> labels, CancellationToken ct)
    {
        (SchemaRows? Rows, string? ContentType)? download = null;
        try
        {
            download = await client.TryDownloadAsync(schemaId, labels, ct);
        }
        catch (FlashdutyApiException ex)
        {
            report.Problem($"schema {schemaId}: data/download failed: {Explain(ex)}");
        }
        catch (DownloadFormatException ex)
        {
            report.Problem($"schema {schemaId}: {ex.Message}; the service would not load this schema (it writes nothing to it until a download reads)");
        }

        RowPage? page = null;
        try
        {
            page = await client.ListAsync(schemaId, null, 1, SampleSize, ct);
        }
        catch (FlashdutyApiException ex)
        {
            report.Problem($"schema {schemaId}: data/list failed: {Explain(ex)}");
        }

        if (download is { } answer && Read(schemaId, answer, page) is { } rows) Fill(schemaId, rows, page);
        if (page is not null) Samples(source, page);
    }

    private SchemaRows? Read(string schemaId, (SchemaRows? Rows, string? ContentType) answer, RowPage? page)
    {
        if (answer.Rows is { } rows) return rows;
        if (page is null)
        {
            report.Problem($"schema {schemaId}: data/download answered an empty body and data/list could not tell whether the schema is empty");
            return null;
        }

        try
        {
            return FlashdutyClient.EmptyDownload(answer.ContentType, page);
        }
        catch (DownloadFormatException ex)
        {
            report.Problem($"schema {schemaId}: {ex.Message}; the service would not load this schema");
            return null;
        }
    }

    private void Fill(string schemaId, SchemaRows rows, RowPage? page)
    {
        var count = rows.Rows.Count;
        var cap = flashduty.RowCaps.GetValueOrDefault(schemaId, flashduty.DefaultRowCap);
        var capKey = flashduty.RowCaps.ContainsKey(schemaId) ? $"Flashduty:RowCaps:{schemaId}" : "Flashduty:DefaultRowCap";
        var fill = (double)count / cap;
        report.Line(string.Create(CultureInfo.InvariantCulture, $"  rows: {count:N0} of its cap of {cap:N0} ({capKey}), {fill * 100:0.##}% full"));
        report.Line($"  download format: {rows.Format}");
        if (count > cap)
            report.Problem(string.Create(CultureInfo.InvariantCulture,
                $"schema {schemaId} holds {count:N0} rows, more than its cap of {cap:N0} ({capKey}): the service would refuse every new row; set the cap Flashduty gives this schema"));
        else if (fill >= sync.FillWarning)
            report.Warning(string.Create(CultureInfo.InvariantCulture,
                $"schema {schemaId} is {fill * 100:0.#}% full ({count:N0} of {cap:N0} rows, Sync:FillWarning {sync.FillWarning}): events for new keys are set aside once it is full"));

        // total is exact only below 1,000; rows written between the two calls also differ.
        if (page is null || page.Total >= 1000 || page.Total == count) return;
        var difference = string.Create(CultureInfo.InvariantCulture, $"data/download read {count:N0} rows but data/list counts {page.Total:N0}");
        if (count == 0) report.Problem($"schema {schemaId}: {difference}: the service would take the schema for empty");
        else report.Warning($"schema {schemaId}: {difference} (rows written between the two calls, or a download that does not hold every row)");
    }

    private void Samples(IReadOnlyList<string> source, RowPage page)
    {
        if (page.Items.Count == 0)
        {
            report.Line("  sample keys: none (data/list finds no row); the keys' spelling shows once rows exist");
            return;
        }

        report.Line($"  sample keys (data/list, newest first, {page.Items.Count} of {page.Total}):");
        foreach (var row in page.Items)
        {
            var values = string.Join(", ", source.Select(l => $"{l}={Shown(row.Fields.GetValueOrDefault(l) ?? "(missing)")}"));
            report.Line($"    '{Shown(row.Key)}' ← {values}");
        }

        var spelling = KeySpelling.Of(source, page.Items);
        report.Line($"  keys are {spelling}");
        if (source.Count > 1 || spelling == KeySpelling.Opaque)
            report.Line("    (the service takes data/upsert's keys only when they prove themselves so; else it learns a row's key with data/list before deleting it)");
    }

    private void Fills(string schemaId, LabelMapping mapping, IReadOnlyList<string> source, IReadOnlyList<string> result)
    {
        report.Line(mapping.IsByName ? "  labels, and the event fields that fill them:" : $"  labels, and what fills them under the mapping ({mapping.ConfigPath}; events {string.Join(", ", mapping.Events.Order())}):");
        var labels = source.Concat(result).ToList();
        var width = labels.Count == 0 ? 0 : labels.Max(l => l.Length);
        foreach (var label in labels) report.Line($"    {label.PadRight(width)} ← {LabelSources.Describe(label, source, mapping).Text}");

        var (errors, warnings) = LabelSources.Fit(schemaId, mapping, source, result, sync.MaxIncompleteWait, queues.WaitQueue, queues.ErrorQueue);
        foreach (var error in errors) report.Problem(error + "; the service refuses to start with this mapping");
        foreach (var warning in warnings) report.Warning(warning);
        if (mapping.HostLabel(source) is { } host)
            report.Line(source.Count == 1 ? $"  HostDecommissioned deletes the host's row{(host == HostLabel ? "" : $" (by {host})")}" : $"  HostDecommissioned deletes every row of the host{(host == HostLabel ? "" : $" (by {host})")}");
    }

    private static string Shown(string text) => text.Length <= ShownChars ? text : text[..ShownChars] + "…";
}
