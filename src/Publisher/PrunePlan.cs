using System.Globalization;

namespace InventoryPublisher;

/// <summary>The hosts one host-keyed schema holds, read from <c>data/download</c>: rows per host of its host label.</summary>
public sealed record SchemaHosts(string SchemaId, string Name, string HostLabel, int Rows, IReadOnlyDictionary<string, int> RowsByHost);

/// <summary>What pruning does to one schema: the rows of hosts the export lacks, against the schema's rows and the limit.</summary>
public sealed record SchemaPrune(SchemaHosts Schema, IReadOnlyList<string> Hosts, int RowsToDelete, double MaxShare)
{
    public double Share => Schema.Rows == 0 ? 0 : (double)RowsToDelete / Schema.Rows;

    public bool OverLimit => Share > MaxShare;

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"schema {Schema.SchemaId} ({Schema.Name}), keyed by {Schema.HostLabel}: {Schema.Rows} rows, {RowsToDelete} of them ({Share * 100:0.#}%) of {Hosts.Count} host(s) not in the export; limit {MaxShare * 100:0.#}%{(OverLimit ? ": OVER THE LIMIT" : "")}");
}

/// <summary>
/// Which hosts to decommission so that Flashduty's host-keyed schemas hold only the export's hosts: every host a
/// schema holds that the export lacks (a <c>HostDecommissioned</c> deletes its rows in every host-keyed schema).
/// Pure: the counts and the safety limit, no I/O.
/// </summary>
public sealed record PrunePlan(IReadOnlyList<string> Hosts, IReadOnlyList<SchemaPrune> Schemas)
{
    /// <summary>Default share of a schema's rows a prune may delete without <c>--force</c>.</summary>
    public const double DefaultMaxShare = 0.10;

    public IEnumerable<SchemaPrune> OverLimit => Schemas.Where(s => s.OverLimit);

    public static PrunePlan Compute(IReadOnlySet<string> exportHosts, IEnumerable<SchemaHosts> schemas, double maxShare)
    {
        ArgumentNullException.ThrowIfNull(exportHosts);
        ArgumentNullException.ThrowIfNull(schemas);
        var prunes = schemas.Select(s =>
        {
            var missing = s.RowsByHost.Keys.Where(h => !exportHosts.Contains(h)).Order(StringComparer.Ordinal).ToList();
            return new SchemaPrune(s, missing, missing.Sum(h => s.RowsByHost[h]), maxShare);
        }).ToList();
        return new PrunePlan(prunes.SelectMany(p => p.Hosts).Distinct().Order(StringComparer.Ordinal).ToList(), prunes);
    }
}
