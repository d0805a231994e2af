namespace FlashdutySync.Sync;

/// <summary>
/// A configured schema id: its definition once <c>schema/info</c> answered, why it is not loaded while it cannot be
/// read, and the current term's <see cref="SchemaSync"/> while this replica holds the journal and the rows are read.
/// Events for a schema that is not loaded wait in the wait queue (see <see cref="OutcomeKind.Deferred"/>): never
/// acknowledged against rows that are unknown.
/// </summary>
internal sealed class SchemaSlot(string schemaId, LabelMapping? mapping = null)
{
    public string SchemaId { get; } = schemaId;

    /// <summary>How events fill the schema's labels (configured; by name by default).</summary>
    public LabelMapping Mapping { get; } = mapping ?? LabelMapping.ByName;

    /// <summary>The mapping's warnings against the schema's labels were logged (once per process).</summary>
    public bool MappingReported { get; set; }

    public SchemaDefinition? Definition { get; set; }

    /// <summary>The current term's rows, or null (not active, or not readable yet).</summary>
    public SchemaSync? Sync { get; set; }

    /// <summary>A probe is reading it (one at a time). Guarded by the engine's probe list.</summary>
    public bool Probing { get; set; }

    /// <summary>Why the mapping does not fit the schema's labels, or null (fits, or not read yet).</summary>
    public string? MappingProblem { get; set; }

    /// <summary>Why it is not loaded, or null.</summary>
    public string? LoadProblem { get; set; } = "not loaded yet";
}
