using System.Globalization;
using System.Text.Json;
using FlashdutySync.Flashduty;
using Inventory.Contracts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InventoryPublisher;

/// <summary>What <c>import</c> is asked to do: the export, its time, and whether to prune, only preview, or force a large prune.</summary>
public sealed record ResyncRequest(TextReader Csv, string CsvName, DateTimeOffset At, Uri Broker, bool Prune, bool DryRun, bool Force, double MaxShare);

/// <summary>
/// The CSV import as a full resync: a <c>HostProvisioned</c> per row of the export and, with <c>--prune</c>, after
/// them a <c>HostDecommissioned</c> for every host that Flashduty's host-keyed schemas hold but the export lacks
/// (read with the service's configuration: <c>Flashduty:*</c>, its schemas and mappings). A prune that would delete
/// more than <see cref="ResyncRequest.MaxShare"/> of a schema's rows is refused, nothing published, unless forced:
/// a truncated export must not wipe Flashduty. <c>--dry-run</c> prints the counts, then every event it would
/// publish and every row it would delete, and changes nothing. Exit codes: 0 done, 1 refused by the limit, 2 bad
/// input, configuration or Flashduty failing. The app key is never printed.
/// </summary>
public static class CsvResync
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public static async Task<int> RunAsync(ResyncRequest request, IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var secret = configuration[$"{FlashdutyOptions.SectionName}:{nameof(FlashdutyOptions.AppKey)}"] is { Length: >= 6 } key ? key : null;
        string Scrub(string text) => secret is null ? text : text.Replace(secret, "[app key]", StringComparison.Ordinal);
        List<HostProvisioned> export;
        try
        {
            export = CsvImport.Read(request.Csv, request.At).ToList();
        }
        catch (Exception ex) when (ex is InvalidDataException or CsvHelper.CsvHelperException)
        {
            await error.WriteLineAsync($"{request.CsvName}: {ex.Message}");
            return 2;
        }

        PrunePlan? plan = null;
        List<string> leftAlone = [];
        if (request.Prune)
        {
            try
            {
                (plan, leftAlone) = await PlanAsync(export, request.MaxShare, configuration, ct);
            }
            catch (OptionsValidationException ex)
            {
                await error.WriteLineAsync(Scrub("--prune reads Flashduty with the service's configuration, which is invalid: " + string.Join("; ", ex.Failures)));
                return 2;
            }
            catch (Exception ex) when (ex is FlashdutyApiException or DownloadFormatException or InvalidDataException or HttpRequestException or InvalidOperationException)
            {
                await error.WriteLineAsync(Scrub($"--prune could not read Flashduty's rows, so nothing was published: {ex.Message}"));
                return 2;
            }
        }

        var decommissions = (plan?.Hosts ?? []).Select(h => new HostDecommissioned { Host = h, OccurredAt = request.At, EventId = "csv-prune" }).ToList();
        await output.WriteLineAsync($"import: {export.Count} HostProvisioned from {request.CsvName}{(request.DryRun ? " (dry run: nothing is published or deleted)" : "")}");
        if (plan is not null)
        {
            await output.WriteLineAsync($"prune: {decommissions.Count} HostDecommissioned after them, deleting {plan.Schemas.Sum(s => s.RowsToDelete)} row(s)");
            foreach (var schema in plan.Schemas) await output.WriteLineAsync("  " + schema.Describe());
            foreach (var line in leftAlone) await output.WriteLineAsync("  " + line);
        }

        var refused = plan is not null && !request.Force && plan.OverLimit.Any();
        if (refused)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"prune {(request.DryRun ? "would be " : "")}refused: it would delete more than {request.MaxShare * 100:0.#}% of the rows of {string.Join(", ", plan!.OverLimit.Select(s => s.Schema.SchemaId))}. " +
                $"A truncated export must not wipe Flashduty: check the export, or pass --force (or a larger --max-prune-share){(request.DryRun ? "" : "; nothing was published")}"));
        }

        if (request.DryRun)
        {
            foreach (var e in export) await output.WriteLineAsync($"publish {InventoryExchanges.HostProvisioned} {JsonSerializer.Serialize(e, Json)}");
            foreach (var e in decommissions) await output.WriteLineAsync($"publish {InventoryExchanges.HostDecommissioned} {JsonSerializer.Serialize(e, Json)}");
            foreach (var schema in plan?.Schemas ?? [])
            {
                foreach (var host in schema.Hosts) await output.WriteLineAsync($"delete  schema {schema.Schema.SchemaId}: {schema.Schema.HostLabel}={host} ({schema.Schema.RowsByHost[host]} row(s))");
            }

            return refused ? 1 : 0;
        }

        if (refused) return 1;
        await using var publisher = await RawPublisher.ConnectAsync(request.Broker, ct: ct);
        await PublishAllAsync(publisher, InventoryExchanges.HostProvisioned, export, error, ct);
        // After the import's events: a host the export brings back is never deleted by its own resync.
        await PublishAllAsync(publisher, InventoryExchanges.HostDecommissioned, decommissions, error, ct);
        await output.WriteLineAsync($"published {export.Count} HostProvisioned{(plan is null ? "" : $" and {decommissions.Count} HostDecommissioned")} from {request.CsvName}");
        return 0;
    }

    private static async Task<(PrunePlan, List<string>)> PlanAsync(List<HostProvisioned> export, double maxShare, IConfiguration configuration, CancellationToken ct)
    {
        // The service's own client: the account limiter, retries, and the key only on the wire.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConfiguration(configuration);
        builder.AddFlashdutyClient();
        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptions<FlashdutyOptions>>().Value;
        var (hostKeyed, leftAlone) = await FlashdutyHosts.ReadAsync(host.Services.GetRequiredService<FlashdutyClient>(), options, ct);
        return (PrunePlan.Compute(export.Select(e => e.Host).ToHashSet(StringComparer.Ordinal), hostKeyed, maxShare), leftAlone);
    }

    private static async Task PublishAllAsync<T>(RawPublisher publisher, string exchange, IReadOnlyList<T> events, TextWriter progress, CancellationToken ct) where T : class
    {
        var pending = new List<Task>();
        for (var i = 0; i < events.Count; i++)
        {
            pending.Add(publisher.PublishAsync(exchange, events[i], ct: ct).AsTask());
            if ((i + 1) % 1000 != 0) continue;
            await Task.WhenAll(pending);
            pending.Clear();
            await progress.WriteAsync($"\rpublished {i + 1} of {events.Count} to {exchange}");
        }

        await Task.WhenAll(pending);
        if (events.Count >= 1000) await progress.WriteLineAsync();
    }
}
