namespace Flashduty.Simulator;

/// <summary>Settings of the simulator; section <c>Simulator</c>, or command-line flags such as <c>--Simulator:PerSecond=50</c>.</summary>
public sealed class SimulatorOptions
{
    public const string SectionName = "Simulator";

    /// <summary>Keys with full rights. Default: <c>local-dev-key</c>.</summary>
    public List<string> AppKeys { get; set; } = [];

    /// <summary>Keys that may read but get 403 <c>AccessDenied</c> on writes.</summary>
    public List<string> ReadOnlyKeys { get; set; } = [];

    /// <summary>Account limit per rolling second. Default 50; 0 turns it off.</summary>
    public int PerSecond { get; set; } = 50;

    /// <summary>Account limit per rolling minute. Default 1,000; 0 turns it off.</summary>
    public int PerMinute { get; set; } = 1000;

    /// <summary>Send a <c>Retry-After</c> header on rate-limit 429s. Default false: the real API does not document one.</summary>
    public bool SendRetryAfter { get; set; }

    /// <summary>Row cap of schemas that do not set their own. Default 10,000.</summary>
    public int DefaultRowCap { get; set; } = 10_000;

    /// <summary>Schemas per account. Default 20.</summary>
    public int MaxSchemas { get; set; } = 20;

    /// <summary>How many recent requests <c>/_sim/requests</c> keeps. Default 200.</summary>
    public int RecentRequests { get; set; } = 200;

    /// <summary>JSON file with schemas (fixed ids) and rows to load at start.</summary>
    public string? SeedFile { get; set; }

    /// <summary>Faults injected from the start; changeable at run time through <c>/_sim/faults</c>.</summary>
    public FaultOptions Faults { get; set; } = new();

    /// <summary>
    /// Which reading of each ambiguity of the API reference is played (see <see cref="ApiReadings"/> for each default);
    /// section <c>Simulator:Readings</c>, changeable at run time through <c>/_sim/readings</c>.
    /// </summary>
    public ApiReadings Readings { get; set; } = new();

    internal IEnumerable<string> AllKeys => AppKeys.Count == 0 && ReadOnlyKeys.Count == 0 ? ["local-dev-key"] : AppKeys;
}
