using System.Text;
using FlashdutySync.Sync;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Reconcile;

/// <summary>
/// <c>POST /reconcile</c> on the health port: drift repair now, or with <c>?dryRun=true</c> the differences only.
/// Answered by the replica that holds the row journal (409 from a standby). Only with the bearer token of
/// <c>Reconcile:Token</c> (401 without one, 403 with another, 403 when none is configured): each call costs a
/// download per schema. The report names rows and labels, never the app key.
/// </summary>
public static class ReconcileEndpoint
{
    public const string Path = "/reconcile";

    /// <summary>Adds the options of section <c>Reconcile</c> (the endpoint's token), validated at start.</summary>
    public static IHostApplicationBuilder AddReconcile(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptionsWithValidateOnStart<ReconcileOptions>().Bind(builder.Configuration.GetSection(ReconcileOptions.SectionName));
        builder.Services.AddSingleton<IValidateOptions<ReconcileOptions>, ReconcileOptionsValidator>();
        return builder;
    }

    public static WebApplication MapReconcile(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost(Path, async (HttpContext context, MappingEngine engine, IOptions<ReconcileOptions> options, ILoggerFactory loggers, bool? dryRun) =>
        {
            // Before anything else: a refused call costs no request to Flashduty.
            var access = ReconcileAccess.Decide(options.Value.Token, context.Request.Headers.Authorization.Count == 0 ? null : context.Request.Headers.Authorization.ToString());
            if (!access.Allowed)
            {
                Log.ReconcileRefused(loggers.CreateLogger(typeof(ReconcileEndpoint)), context.Connection.RemoteIpAddress?.ToString(), access.Status, access.Reason!);
                if (access.Status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = "Bearer realm=\"reconcile\"";
                return Results.Text(access.Reason + "\n", statusCode: access.Status);
            }

            using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            limit.CancelAfter(TimeSpan.FromMinutes(5));
            IReadOnlyList<ReconcileReport>? reports;
            try
            {
                reports = await engine.ReconcileAsync(dryRun ?? false, limit.Token);
            }
            catch (OperationCanceledException)
            {
                return Results.Text("the comparison did not finish: this replica stopped holding the journal, or Flashduty did not answer within 5 min\n",
                    statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            catch (Exception ex) when (ex is Flashduty.FlashdutyApiException or Flashduty.DownloadFormatException or HttpRequestException)
            {
                return Results.Text($"a schema's rows could not be downloaded: {ex.Message}\n", statusCode: StatusCodes.Status502BadGateway);
            }

            return reports is null
                ? Results.Text("this replica does not hold the row journal (it is a standby): ask the active replica\n", statusCode: StatusCodes.Status409Conflict)
                : Results.Text(Format(reports, dryRun ?? false));
        });
        return app;
    }

    /// <summary>Counts first, then the rows that differ.</summary>
    public static string Format(IReadOnlyList<ReconcileReport> reports, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var text = new StringBuilder();
        text.AppendLine(dryRun ? "Dry run: nothing was written." : "Drift repair: what differs is queued to be written.");
        foreach (var r in reports)
        {
            text.AppendLine($"schema {r.SchemaId}: {r.RowsInFlashduty} rows in Flashduty; {r.Missing} missing, {r.Differing} with other values, " +
                            $"{r.NotGone} of decommissioned hosts still there; {r.Foreign} no event set");
            foreach (var line in r.Differences) text.AppendLine($"  {line}");
            if (r.Unlisted > 0) text.AppendLine($"  … and {r.Unlisted} more");
        }

        if (reports.Count == 0) text.AppendLine("no schema is loaded");
        return text.ToString();
    }
}
