using System.CommandLine;
using Inventory.Contracts;
using InventoryPublisher;
using MassTransit;
using Microsoft.Extensions.Configuration;

var broker = new Option<Uri>("--broker") { Description = "RabbitMQ address", CustomParser = ParseUri, DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("RabbitMq__Uri") ?? "amqp://guest:guest@localhost:5672/") };
var raw = new Option<bool>("--raw") { Description = "Publish plain JSON, as a non-.NET publisher would (default: MassTransit with the contract types)" };
var host = new Option<string>("--host") { Description = "Host name", Required = true };
var owner = new Option<string?>("--owner") { Description = "Owner" };
var team = new Option<string?>("--team") { Description = "Team" };
var service = new Option<string?>("--service") { Description = "Service" };
var label = new Option<string[]>("--label") { Description = "Extra label as name=value (repeatable)", AllowMultipleArgumentsPerToken = false };
var at = new Option<DateTimeOffset?>("--at") { Description = "When it occurred (RFC 3339); default: now" };
var eventId = new Option<string?>("--event-id") { Description = "The event's id" };

var root = new RootCommand("Publishes inventory events for flashduty-mapping-sync, imports hosts from CSV, and moves events back from the error queue.");
root.Options.Add(broker);

Command EventCommand(string name, string description, params Option[] options)
{
    var command = new Command(name, description);
    foreach (var option in options.Concat([raw, at, eventId])) command.Options.Add(option);
    root.Subcommands.Add(command);
    return command;
}

Dictionary<string, string>? Labels(ParseResult p) =>
    p.GetValue(label) is { Length: > 0 } pairs ? pairs.Select(x => x.Split('=', 2)).ToDictionary(x => x[0], x => x.Length > 1 ? x[1] : "") : null;

var provisioned = EventCommand("host-provisioned", "Publish a HostProvisioned", host, owner, team, service, label);
provisioned.SetAction((p, ct) => PublishAsync(p, InventoryExchanges.HostProvisioned, new HostProvisioned
{
    Host = p.GetValue(host)!, Owner = p.GetValue(owner), Team = p.GetValue(team), Service = p.GetValue(service), Labels = Labels(p),
    OccurredAt = p.GetValue(at) ?? DateTimeOffset.UtcNow, EventId = p.GetValue(eventId),
}, ct));

var ownerRequired = new Option<string>("--owner") { Description = "The new owner", Required = true };
var previous = new Option<string?>("--previous-owner") { Description = "The owner before" };
var changed = EventCommand("owner-changed", "Publish an OwnerChanged", host, ownerRequired, previous, label);
changed.SetAction((p, ct) => PublishAsync(p, InventoryExchanges.OwnerChanged, new OwnerChanged
{
    Host = p.GetValue(host)!, Owner = p.GetValue(ownerRequired)!, PreviousOwner = p.GetValue(previous), Labels = Labels(p),
    OccurredAt = p.GetValue(at) ?? DateTimeOffset.UtcNow, EventId = p.GetValue(eventId),
}, ct));

var decommissioned = EventCommand("host-decommissioned", "Publish a HostDecommissioned", host);
decommissioned.SetAction((p, ct) => PublishAsync(p, InventoryExchanges.HostDecommissioned, new HostDecommissioned
{
    Host = p.GetValue(host)!, OccurredAt = p.GetValue(at) ?? DateTimeOffset.UtcNow, EventId = p.GetValue(eventId),
}, ct));

var csvFile = new Option<FileInfo>("--csv") { Description = "CSV with a header: host,owner,team,service[,extra labels]", Required = true };
var prune = new Option<bool>("--prune") { Description = "After the import, publish a HostDecommissioned for every host Flashduty's host-keyed schemas hold but the CSV lacks (reads Flashduty with the service's configuration: Flashduty__* and --settings)" };
var dryRun = new Option<bool>("--dry-run") { Description = "Print the counts, then every event that would be published and every row that would be deleted; publish nothing" };
var force = new Option<bool>("--force") { Description = "Prune even past --max-prune-share of a schema's rows" };
var maxShare = new Option<double>("--max-prune-share") { Description = "Share of a schema's rows a prune may delete without --force", DefaultValueFactory = _ => PrunePlan.DefaultMaxShare };
maxShare.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 1) r.AddError("--max-prune-share is a share between 0 and 1 (0.1 = 10%)"); });
var settings = new Option<FileInfo?>("--settings") { Description = "The service's appsettings.json, read before the environment (Flashduty__*), for --prune" };
var import = new Command("import", "Publish a HostProvisioned for every row of a CSV (plain JSON), with progress; --prune makes Flashduty's host-keyed schemas equal to it");
foreach (var option in new Option[] { csvFile, at, prune, dryRun, force, maxShare, settings }) import.Options.Add(option);
import.SetAction(async (p, ct) =>
{
    var file = p.GetValue(csvFile)!;
    if (!file.Exists)
    {
        Console.Error.WriteLine($"no such file: {file.FullName}");
        return 2;
    }

    // Decommissions stamped "now" would delete hosts provisioned live after the export was taken: the export's own time is required.
    if (p.GetValue(prune) && p.GetValue(at) is null)
    {
        Console.Error.WriteLine("--prune needs --at <the export's time, RFC 3339>: decommissions stamped now would delete hosts provisioned after the export was taken");
        return 2;
    }

    var configuration = new ConfigurationBuilder();
    if (p.GetValue(settings) is { } json) configuration.AddJsonFile(json.FullName, optional: false);
    configuration.AddEnvironmentVariables();
    using var reader = file.OpenText();
    return await CsvResync.RunAsync(new ResyncRequest(reader, file.Name, p.GetValue(at) ?? DateTimeOffset.UtcNow, p.GetValue(broker)!, p.GetValue(prune), p.GetValue(dryRun),
        p.GetValue(force), p.GetValue(maxShare)), configuration.Build(), Console.Out, Console.Error, ct);
});
root.Subcommands.Add(import);

var queue = new Option<string>("--queue") { Description = "The service's queue (its error queue is <queue>_error)", DefaultValueFactory = _ => "flashduty-mapping-sync" };
var limit = new Option<int?>("--limit") { Description = "Move at most this many" };
var eventExchange = new Option<string?>("--event") { Description = "For plain messages that do not say which event they are: host-provisioned, owner-changed or host-decommissioned" };
var move = new Command("move-errors", "Move events from the error queue back to the service's queue, headers kept");
move.Options.Add(queue);
move.Options.Add(limit);
move.Options.Add(eventExchange);
move.SetAction(async (p, ct) =>
{
    var named = p.GetValue(eventExchange) is { } e ? (e.StartsWith("inventory.", StringComparison.Ordinal) ? e : "inventory." + e) : null;
    var result = await ErrorQueueMover.MoveAsync(p.GetValue(broker)!, p.GetValue(queue)!, p.GetValue(limit), named, ct);
    Console.WriteLine($"moved {result.Moved}, {result.Left} left in {p.GetValue(queue)}_error");
    foreach (var problem in result.Problems.Take(20)) Console.Error.WriteLine(problem);
    return result.Problems.Count == 0 ? 0 : 1;
});
root.Subcommands.Add(move);

var baseUrl = new Option<Uri>("--base-url") { Description = "Flashduty API (default: Flashduty__BaseUrl, else the local simulator)", CustomParser = ParseUri, DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("Flashduty__BaseUrl") ?? "http://127.0.0.1:5080") };
var appKey = new Option<string>("--app-key") { Description = "App key (default: Flashduty__AppKey)", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("Flashduty__AppKey") ?? "local-dev-key" };
var schema = new Option<string>("--schema") { Description = "Schema id", Required = true };
var rows = new Command("rows", "Print a schema's mapping rows, read back with data/download");
rows.Options.Add(baseUrl);
rows.Options.Add(appKey);
rows.Options.Add(schema);
rows.SetAction(async (p, ct) =>
{
    var (ok, text) = await RowsReader.DownloadAsync(p.GetValue(baseUrl)!, p.GetValue(appKey)!, p.GetValue(schema)!, ct);
    (ok ? Console.Out : Console.Error).WriteLine(text);
    return ok ? 0 : 1;
});
root.Subcommands.Add(rows);

return await root.Parse(args).InvokeAsync();

async Task<int> PublishAsync<T>(ParseResult p, string exchange, T message, CancellationToken ct) where T : class
{
    if (p.GetValue(raw))
    {
        await using var publisher = await RawPublisher.ConnectAsync(p.GetValue(broker)!, ct: ct);
        await publisher.PublishAsync(exchange, message, ct: ct);
    }
    else
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(p.GetValue(broker)!);
            cfg.Message<HostProvisioned>(m => m.SetEntityName(InventoryExchanges.HostProvisioned));
            cfg.Message<OwnerChanged>(m => m.SetEntityName(InventoryExchanges.OwnerChanged));
            cfg.Message<HostDecommissioned>(m => m.SetEntityName(InventoryExchanges.HostDecommissioned));
        });
        await bus.StartAsync(ct);
        try
        {
            await bus.Publish(message, ct);
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None);
        }
    }

    Console.WriteLine($"published {typeof(T).Name} to {exchange}{(p.GetValue(raw) ? " as plain JSON" : "")}");
    return 0;
}

// System.CommandLine has no parser for Uri: without this, --broker and --base-url refused every value.
static Uri? ParseUri(System.CommandLine.Parsing.ArgumentResult result)
{
    var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
    if (Uri.TryCreate(text, UriKind.Absolute, out var uri)) return uri;
    result.AddError($"'{text}' is not an absolute address (say amqp://user:pass@host:5672/vhost or https://api.flashcat.cloud)");
    return null;
}
