using System.Text.RegularExpressions;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Sync;

/// <summary>
/// How one schema's labels are filled from events: which events feed it, and per schema label an event field, an
/// entry of the event's <c>labels</c>, or a constant; a label it does not name is filled by name (the field of that
/// name, else <c>labels.&lt;label&gt;</c>), which is all <see cref="ByName"/> does. The sync asks it which schema
/// labels an event sets, to which values (<see cref="LabelsOf"/>); everything after that (merge, rows, journal)
/// works on schema labels only.
/// </summary>
public sealed partial class LabelMapping
{
    private static readonly IReadOnlyDictionary<string, LabelSource> None = new Dictionary<string, LabelSource>();

    private LabelMapping(IReadOnlySet<EventKind> events, IReadOnlyDictionary<string, LabelSource> configured, string configPath)
    {
        Events = events;
        Configured = configured;
        ConfigPath = configPath;
        IsByName = configured.Count == 0 && events.Count == Enum.GetValues<EventKind>().Length;
    }

    /// <summary>No mapping: every event feeds the schema and every label is filled by name (the behaviour before mappings).</summary>
    public static LabelMapping ByName { get; } = ByNameAt(FlashdutyOptions.SectionName + ":" + nameof(FlashdutyOptions.SchemaIds));

    /// <summary>The by-name mapping of a schema configured at <paramref name="configPath"/> (for messages).</summary>
    public static LabelMapping ByNameAt(string configPath) => new(Enum.GetValues<EventKind>().ToHashSet(), None, configPath);

    /// <summary>The events that feed the schema.</summary>
    public IReadOnlySet<EventKind> Events { get; }

    /// <summary>The labels the configuration names (fields, <c>labels</c> entries, constants).</summary>
    public IReadOnlyDictionary<string, LabelSource> Configured { get; }

    /// <summary>Where the schema is configured, say <c>Flashduty:Schemas:0</c>: error messages name it.</summary>
    public string ConfigPath { get; }

    /// <summary>True when the mapping is exactly the by-name one.</summary>
    public bool IsByName { get; }

    public bool Feeds(EventKind kind) => Events.Contains(kind);

    public LabelSource SourceOf(string label) => Configured.TryGetValue(label, out var source) ? source : new LabelSource(LabelSourceKind.ByName, label);

    public bool IsConstant(string label) => Configured.TryGetValue(label, out var source) && source.Kind == LabelSourceKind.Constant;

    /// <summary>
    /// The schema labels the event sets and their values, or null when the event does not feed the schema. A
    /// decommission sets what names its rows (the host, constants); the sync ignores its other labels.
    /// </summary>
    public IReadOnlyDictionary<string, string>? LabelsOf(InventoryEvent e, IReadOnlyList<string> schemaLabels)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(schemaLabels);
        if (!Events.Contains(e.Kind)) return null;
        if (Configured.Count == 0) return e.Labels;
        var labels = new Dictionary<string, string>(schemaLabels.Count, StringComparer.Ordinal);
        foreach (var label in schemaLabels)
        {
            if (SourceOf(label).ValueIn(e) is { } value) labels[label] = value;
        }

        return labels;
    }

    /// <summary>
    /// The source label the event's host fills (so a <c>HostDecommissioned</c> finds the host's rows), or null: the
    /// schema is not keyed by the host, or decommissions do not feed it.
    /// </summary>
    public string? HostLabel(IReadOnlyList<string> sourceLabels)
    {
        ArgumentNullException.ThrowIfNull(sourceLabels);
        return Events.Contains(EventKind.HostDecommissioned) ? sourceLabels.FirstOrDefault(l => SourceOf(l).FieldName == EventFields.Host) : null;
    }

    /// <summary>The mapping as a line for the log: <c>hostname ← host, owner_email ← labels.email, source = 'cmdb'</c>.</summary>
    public string Describe() =>
        string.Join(", ", Configured.Select(c => c.Value.Kind == LabelSourceKind.Constant ? $"{c.Key} = '{c.Value.Name}'" : $"{c.Key} ← {c.Value}")
            .Append($"events {string.Join(", ", Events.Order())}"));

    [GeneratedRegex("^[a-z][a-z0-9_]{0,39}$")]
    private static partial Regex LabelName();

    /// <summary>
    /// Reads one schema's mapping from its options, adding each mistake to <paramref name="failures"/> (named by its
    /// key under <paramref name="path"/> and the schema id); null when there is any. What it cannot know without
    /// <c>schema/info</c> (whether the schema has those labels) is checked once the schema is read (LabelSources.Fit).
    /// </summary>
    public static LabelMapping? Parse(SchemaOptions options, string path, List<string> failures)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(failures);
        var before = failures.Count;
        var where = $"{path} (schema {options.Id})";
        var events = new HashSet<EventKind>();
        for (var i = 0; i < options.Events.Count; i++)
        {
            if (Enum.TryParse<EventKind>(options.Events[i], ignoreCase: true, out var kind) && Enum.IsDefined(kind) && !int.TryParse(options.Events[i], out _)) events.Add(kind);
            else failures.Add($"{where}: Events:{i} is '{options.Events[i]}', not an event ({string.Join(", ", Enum.GetNames<EventKind>())})");
        }

        if (options.Events.Count == 0) events.UnionWith(Enum.GetValues<EventKind>());
        var configured = new Dictionary<string, LabelSource>(StringComparer.Ordinal);
        foreach (var (label, text) in options.Labels)
        {
            if (!LabelName().IsMatch(label)) failures.Add($"{where}: Labels:{label}: '{label}' is not a label name (^[a-z][a-z0-9_]{{0,39}}$)");
            else if (ParseSource(text?.Trim() ?? "") is { } source) configured[label] = source;
            else
                failures.Add($"{where}: Labels:{label} is '{text}', not an event field ({string.Join(", ", EventFields.All)}) nor {LabelSource.LabelsPrefix}<name> (an entry of the event's labels)");
        }

        foreach (var (label, value) in options.Constants)
        {
            if (!LabelName().IsMatch(label)) failures.Add($"{where}: Constants:{label}: '{label}' is not a label name (^[a-z][a-z0-9_]{{0,39}}$)");
            else if (options.Labels.ContainsKey(label)) failures.Add($"{where}: label '{label}' is in both Labels and Constants; give it one source");
            else if (string.IsNullOrEmpty(value)) failures.Add($"{where}: Constants:{label} is empty; a label's value is at least one character");
            else if (value.Length > EventTranslator.MaxValueLength) failures.Add($"{where}: Constants:{label} is {value.Length} characters long; Flashduty takes at most {EventTranslator.MaxValueLength}");
            else if (value.Contains(SchemaDefinition.KeySeparator, StringComparison.Ordinal)) failures.Add($"{where}: Constants:{label} contains the control character U+001F, which no label value may hold");
            else configured[label] = new LabelSource(LabelSourceKind.Constant, value);
        }

        // A source no event feeding the schema carries fills nothing: said now, before anything is read.
        foreach (var (label, source) in configured)
        {
            if (source.Kind == LabelSourceKind.Field && !events.Any(k => EventFields.Of(k).Contains(source.Name)))
                failures.Add($"{where}: label '{label}' is mapped to the field '{source.Name}', which none of the events feeding the schema ({string.Join(", ", events.Order())}) carries: nothing would fill it");
            else if (source.Kind == LabelSourceKind.Label && !events.Any(EventFields.CarriesLabels))
                failures.Add($"{where}: label '{label}' is mapped to {source}, but only HostDecommissioned feeds the schema and it carries no labels: nothing would fill it");
        }

        return failures.Count == before ? new LabelMapping(events, configured, path) : null;
    }

    private static LabelSource? ParseSource(string text)
    {
        if (EventFields.All.Contains(text)) return new LabelSource(LabelSourceKind.Field, text);
        if (text.StartsWith(LabelSource.LabelsPrefix, StringComparison.Ordinal) && LabelName().IsMatch(text[LabelSource.LabelsPrefix.Length..]))
            return new LabelSource(LabelSourceKind.Label, text[LabelSource.LabelsPrefix.Length..]);
        return null;
    }
}
