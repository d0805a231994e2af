namespace FlashdutySync.Check;

/// <summary>
/// What fills one label of a schema: a description, and whether any event field (or a constant) does — else only an
/// entry of an event's <c>labels</c>. <see cref="Configured"/>: the mapping names that entry, so nobody is warned;
/// <see cref="Unfillable"/>: nothing feeding the schema can fill it (a start refused).
/// </summary>
internal sealed record LabelFill(string Text, bool ByFields)
{
    public bool Configured { get; init; }

    public bool Unfillable { get; init; }

    /// <summary>Only a <c>labels</c> entry nobody configured fills it: rows may wait for it.</summary>
    public bool Warn => !ByFields && !Configured && !Unfillable;
}
