namespace FlashdutySync.Sync;

public sealed partial class MappingEngine
{
    /// <summary>
    /// Drift repair now, in every loaded schema of this replica's term (see <c>SchemaSync</c>'s Reconcile part); a dry run
    /// compares and changes nothing. Null when this replica does not hold the journal: only the active one knows the rows.
    /// </summary>
    public async Task<IReadOnlyList<ReconcileReport>?> ReconcileAsync(bool dryRun, CancellationToken ct)
    {
        if (CurrentTerm() is not { } term) return null;
        var schemas = term.SchemasNow(_termLock);
        return await Task.WhenAll(schemas.Select(s => s.ReconcileAsync(dryRun, ct))).ConfigureAwait(false);
    }
}
