namespace FlashdutySync.Check;

/// <summary>What fills one label of a schema: a description, and whether any event field does (else only <c>labels.&lt;name&gt;</c>).</summary>
internal sealed record LabelFill(string Text, bool ByFields);
