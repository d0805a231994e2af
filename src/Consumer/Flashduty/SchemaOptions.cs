namespace FlashdutySync.Flashduty;

/// <summary>
/// One schema with its own label mapping; section <c>Flashduty:Schemas:&lt;n&gt;</c> (environment
/// <c>Flashduty__Schemas__0__Id</c>, <c>Flashduty__Schemas__0__Labels__hostname=host</c> …). A schema listed in
/// <see cref="FlashdutyOptions.SchemaIds"/> instead is mapped by name. Validated at start (see <c>LabelMapping.Parse</c>),
/// and against the schema's labels once <c>schema/info</c> answers.
/// </summary>
public sealed class SchemaOptions
{
    /// <summary>The schema id (24 lowercase hex characters). Required.</summary>
    public string Id { get; set; } = "";

    /// <summary>
    /// Schema label → what fills it: an event field (<c>host</c>, <c>owner</c>, <c>team</c>, <c>service</c>) or an
    /// entry of the event's <c>labels</c> object (<c>labels.&lt;name&gt;</c>). A schema label not named here is filled
    /// by name, as without a mapping: the event's field of that name, else <c>labels.&lt;label&gt;</c>. Default: none.
    /// </summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>Schema label → a fixed value every event feeding the schema sets (say <c>source</c> = <c>cmdb</c>). Default: none.</summary>
    public Dictionary<string, string> Constants { get; set; } = [];

    /// <summary>
    /// The events that feed the schema: <c>HostProvisioned</c>, <c>OwnerChanged</c>, <c>HostDecommissioned</c>
    /// (without it, decommissions leave the schema's rows alone). Default (empty): all three.
    /// </summary>
    public List<string> Events { get; set; } = [];
}
