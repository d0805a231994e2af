using System.Diagnostics;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>One schema's sync against a <see cref="FakeMappingApi"/>, with a fake clock and its writer running.</summary>
internal sealed class SchemaSyncUnderTest : IAsyncDisposable
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;

    /// <param name="options">Sync options; default: a 10 ms probe interval.</param>
    /// <param name="inflow">The inflow tracker (on <see cref="Time"/>); default: one that is always idle.</param>
    public SchemaSyncUnderTest(FakeMappingApi api, IReadOnlyList<string> sourceLabels, IEnumerable<IReadOnlyDictionary<string, string>>? rows = null, int rowCap = 5000,
        SyncOptions? options = null, Func<TimeProvider, InflowTracker>? inflow = null)
    {
        Api = api;
        api.SourceLabels = sourceLabels;
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        Sync = new SchemaSync(new SchemaDefinition("665f1a2b3c4d5e6f7a8b9c01", "s", sourceLabels, ["owner", "team"], RowCap: rowCap),
            api, options ?? new SyncOptions { ProbeInterval = TimeSpan.FromMilliseconds(10) }, inflow?.Invoke(Time) ?? new InflowTracker(10), DiscardRefusedEvents.Instance, new SyncMetrics(meters),
            NullLogger.Instance, Time);
        if (rows is not null) Sync.Load(rows);
        _writer = Task.Run(() => Sync.RunAsync(_stop.Token));
    }

    public FakeMappingApi Api { get; }
    public SchemaSync Sync { get; }
    public FakeTimeProvider Time { get; } = new(T0.AddHours(1));

    public static InventoryEvent Event(EventKind kind, DateTimeOffset at, params (string Label, string Value)[] labels) =>
        new(kind, labels.ToDictionary(l => l.Label, l => l.Value), at, null);

    /// <summary>
    /// Waits for the outcomes, moving the fake clock on by a probe interval each poll: a paused or failed write is
    /// tried again only when the clock says so.
    /// </summary>
    public async Task<KeyOutcome[]> SettleAsync(IEnumerable<Task<KeyOutcome>> outcomes)
    {
        var all = Task.WhenAll(outcomes);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!all.IsCompleted)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("outcomes not settled within 10 s");
            Time.Advance(TimeSpan.FromMilliseconds(10));
            await Task.WhenAny(all, Task.Delay(20));
        }

        return await all;
    }

    public Task<KeyOutcome> Apply(InventoryEvent e) => Sync.Apply(e, default(ActivityContext)) ?? throw new InvalidOperationException("the event does not feed the schema");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }
}
