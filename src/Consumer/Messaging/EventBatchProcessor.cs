using System.Diagnostics;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

/// <summary>
/// Applies a batch of events and settles each one: acknowledged once its rows are confirmed, parked while its row
/// misses labels, set aside with a reason when it can never apply, released back when Flashduty stays down longer
/// than a batch may hold it. The batch returns (and MassTransit acknowledges it) only once every event is settled.
/// </summary>
public sealed class EventBatchProcessor(MappingEngine engine, MessageRerouter rerouter, InflowTracker inflow, AckOrder order, IOptions<SyncOptions> options,
    SyncMetrics metrics, ILogger<EventBatchProcessor> logger, TimeProvider time)
{
    public async Task ProcessAsync<T>(IReadOnlyList<ConsumeContext<T>> messages, string exchange, Func<T, InventoryEvent> translate, CancellationToken ct)
        where T : class
    {
        inflow.BatchStarted(exchange);
        var ticket = order.Enter(messages.Select(m => m.ReceiveContext));
        try
        {
            await engine.EnsureCurrentAsync(ct).ConfigureAwait(false);
            await ProcessBatchAsync(messages, exchange, translate, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var message in messages) inflow.Applied(message.ReceiveContext);
            // Still holding its slot: a batch waiting for its turn to be acknowledged is not free for new events.
            // See AckOrder for why the turn matters.
            await order.LeaveAsync(ticket, ct).ConfigureAwait(false);
            inflow.BatchEnded(exchange);
        }
    }

    private async Task ProcessBatchAsync<T>(IReadOnlyList<ConsumeContext<T>> messages, string exchange, Func<T, InventoryEvent> translate, CancellationToken ct)
        where T : class
    {
        using var activity = SyncTelemetry.Source.StartActivity($"{exchange} process", ActivityKind.Consumer, default(ActivityContext),
            links: messages.Select(m => MessageTrace.CreationContext(m.ReceiveContext)).Where(c => c != default).Distinct().Select(c => new ActivityLink(c)));
        activity?.SetTag(SyncTelemetry.Tags.BatchCount, messages.Count);
        activity?.SetTag("messaging.destination.name", exchange);
        metrics.EventsConsumed.Add(messages.Count, new KeyValuePair<string, object?>("type", typeof(T).Name));
        var batchContext = activity?.Context ?? default;

        var settled = new List<(ConsumeContext<T> Message, InventoryEvent? Event, string? Invalid, IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> Outcomes)>();
        foreach (var message in messages)
        {
            try
            {
                var e = translate(message.Message);
                settled.Add((message, e, null, engine.Apply(e, batchContext)));
            }
            catch (InvalidEventException invalid)
            {
                settled.Add((message, null, invalid.Message, []));
            }

            inflow.Applied(message.ReceiveContext);
        }

        var holdUntil = time.GetUtcNow() + options.Value.HoldLimit;
        await WaitAsync(settled.SelectMany(s => s.Outcomes), holdUntil, ct).ConfigureAwait(false);

        // An event that found its row incomplete may have raced the event completing it (another type's batch, in
        // hand at the same time). Once everything in hand is applied, try it once more before parking it.
        if (settled.Any(s => s.Outcomes.Any(o => o.Outcome.IsCompletedSuccessfully && o.Outcome.Result.Kind == OutcomeKind.Incomplete)))
        {
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(ct);
            quiet.CancelAfter(TimeSpan.FromSeconds(2));
            await inflow.WhenQuietAsync(quiet.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ct.ThrowIfCancellationRequested();
        }

        for (var i = 0; i < settled.Count; i++)
        {
            var (message, e, invalid, outcomes) = settled[i];
            if (e is not null && outcomes.Any(o => o.Outcome.IsCompletedSuccessfully && o.Outcome.Result.Kind == OutcomeKind.Incomplete))
                settled[i] = (message, e, invalid, engine.Apply(e, batchContext));
        }

        await WaitAsync(settled.SelectMany(s => s.Outcomes), holdUntil, ct).ConfigureAwait(false);

        foreach (var (message, e, invalid, outcomes) in settled)
        {
            await SettleAsync(message.ReceiveContext, exchange, e, invalid, outcomes, ct).ConfigureAwait(false);
        }
    }

    private async Task WaitAsync(IEnumerable<(string SchemaId, Task<KeyOutcome> Outcome)> outcomes, DateTimeOffset until, CancellationToken ct)
    {
        var left = until - time.GetUtcNow();
        try
        {
            await Task.WhenAll(outcomes.Select(o => o.Outcome)).WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Flashduty has failed for as long as a batch may hold its events: the unsettled ones go back to RabbitMQ.
        }
    }

    private async Task SettleAsync(ReceiveContext message, string exchange, InventoryEvent? e, string? invalid,
        IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> outcomes, CancellationToken ct)
    {
        if (invalid is not null)
        {
            await SetAsideAsync(message, exchange, "invalid-event", invalid, null, ct);
            return;
        }

        var done = outcomes.Where(o => o.Outcome.IsCompletedSuccessfully).Select(o => (o.SchemaId, Result: o.Outcome.Result)).ToList();
        var rejected = done.Where(o => o.Result.Kind == OutcomeKind.Rejected).ToList();
        if (rejected.Count > 0)
        {
            var first = rejected[0].Result;
            var extra = new Dictionary<string, object?> { ["x-sync-schema-id"] = rejected[0].SchemaId };
            if (first.RequestId is not null) extra["x-flashduty-request-id"] = first.RequestId;
            if (first.ErrorCode is not null) extra["x-flashduty-error-code"] = first.ErrorCode;
            var code = first.ErrorCode == "RowCapReached" ? "row-cap" : "refused-by-flashduty";
            await SetAsideAsync(message, exchange, code, $"{e!.Describe()}: {string.Join("; ", rejected.Select(r => r.Result.Reason))}", extra, ct);
            return;
        }

        var incomplete = done.Where(o => o.Result.Kind == OutcomeKind.Incomplete).ToList();
        if (incomplete.Count > 0)
        {
            var firstParked = ParseTime(Headers.Text(message.TransportHeaders, MessageRerouter.FirstParkedHeader)) ?? time.GetUtcNow();
            var waited = time.GetUtcNow() - firstParked;
            if (waited >= options.Value.MaxIncompleteWait)
            {
                await SetAsideAsync(message, exchange, "incomplete-row",
                    $"{e!.Describe()}: waited {waited.TotalMinutes:0.#} min for a complete row, the most is {options.Value.MaxIncompleteWait.TotalMinutes:0.#} min; " +
                    string.Join("; ", incomplete.Select(r => r.Result.Reason)), new Dictionary<string, object?> { ["x-sync-schema-id"] = incomplete[0].SchemaId }, ct);
                return;
            }

            metrics.EventsParked.Add(1);
            await rerouter.ParkAsync(message, exchange, firstParked, ct);
            return;
        }

        // Unsettled after the hold limit, or released by a stopping replica: back to the queue.
        if (done.Count < outcomes.Count || done.Any(o => o.Result.Kind == OutcomeKind.Released)) await rerouter.ReleaseAsync(message, exchange, ct);
    }

    private async Task SetAsideAsync(ReceiveContext message, string exchange, string code, string reason, IReadOnlyDictionary<string, object?>? extra,
        CancellationToken ct)
    {
        Log.SetAside(logger, reason);
        metrics.EventsSetAside.Add(1, new KeyValuePair<string, object?>("reason", code));
        await rerouter.SetAsideAsync(message, exchange, code, reason, extra, ct);
    }

    private static DateTimeOffset? ParseTime(string? text) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var t) ? t : null;
}
