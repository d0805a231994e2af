using System.Diagnostics;
using FlashdutySync.Sync;
using FlashdutySync.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

/// <summary>
/// Applies a batch of events and settles each one: acknowledged once the row journal holds its rows (confirmed by
/// the broker; Flashduty is written afterwards, from memory), parked while its row misses labels or its schema
/// cannot be read, set aside with a reason when it can never apply, given back when the service stops. The batch
/// returns (and MassTransit acknowledges it) once every event is settled. Should Flashduty later refuse a row, the
/// journaled copies of its events go to the error queue (see <see cref="MessageRerouter.SetAsideAsync(EventCopy, string, KeyOutcome, CancellationToken)"/>).
/// </summary>
public sealed class EventBatchProcessor(MappingEngine engine, MessageRerouter rerouter, InflowTracker inflow, AckOrder order, IOptions<SyncOptions> options,
    SyncMetrics metrics, ILogger<EventBatchProcessor> logger, TimeProvider time)
{
    public async Task ProcessAsync<T>(IReadOnlyList<ConsumeContext<T>> messages, string exchange, Func<T, InventoryEvent> translate, CancellationToken ct)
        where T : class
    {
        var ticket = order.Enter(messages.Select(m => m.ReceiveContext));
        inflow.BatchStarted(exchange);
        try
        {
            await ProcessBatchAsync(messages, exchange, translate, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var message in messages) inflow.Applied(message.ReceiveContext);
            try
            {
                // Still holding its slot: a batch waiting for its turn to be acknowledged is not free for new events.
                // See AckOrder for why the turn matters.
                await order.LeaveAsync(ticket, ct).ConfigureAwait(false);
            }
            finally
            {
                // Also when the wait is cancelled: a batch counted in hand for ever would keep the inflow from
                // ever counting as drained (writes only at MaxWriteDelay).
                inflow.BatchEnded(exchange);
            }
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

        var translated = new List<(ConsumeContext<T> Message, InventoryEvent? Event, EventCopy? Copy, string? Invalid)>(messages.Count);
        foreach (var message in messages)
        {
            try
            {
                var e = translate(message.Message);
                var copy = MessageRerouter.CopyOf(message.ReceiveContext, exchange, e);
                rerouter.Consumed(copy);
                translated.Add((message, e, copy, null));
            }
            catch (InvalidEventException invalid)
            {
                translated.Add((message, null, null, invalid.Message));
            }
        }

        var settled = await ApplyAndJournalAsync(translated, batchContext, ct).ConfigureAwait(false);

        // An event that found its row incomplete may have raced the event completing it (another type's batch, in
        // hand at the same time). Once everything in hand is applied, try it once more before parking it.
        if (settled.Any(s => s.Outcomes.Any(o => o.Outcome.IsCompletedSuccessfully && o.Outcome.Result.Kind == OutcomeKind.Incomplete)))
        {
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(ct);
            quiet.CancelAfter(TimeSpan.FromSeconds(2));
            await inflow.WhenQuietAsync(quiet.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ct.ThrowIfCancellationRequested();
        }

        var again = settled.Select((s, i) => (s, i)).Where(x => x.s.Event is not null && Has(x.s.Outcomes, OutcomeKind.Incomplete)).ToList();
        if (again.Count > 0)
        {
            // Only where it was incomplete: elsewhere it is journaled already (and applying it twice would set it aside twice on a refusal).
            var only = again.Select(x => (IReadOnlySet<string>)x.s.Outcomes.Where(o => o.Outcome.IsCompletedSuccessfully && o.Outcome.Result.Kind == OutcomeKind.Incomplete)
                .Select(o => o.SchemaId).ToHashSet(StringComparer.Ordinal)).ToList();
            var retried = await ApplyAndJournalAsync(again.Select(x => translated[x.i]).ToList(), batchContext, ct, only).ConfigureAwait(false);
            for (var j = 0; j < again.Count; j++)
            {
                var kept = again[j].s.Outcomes.Where(o => !only[j].Contains(o.SchemaId));
                settled[again[j].i] = retried[j] with { Outcomes = [.. kept, .. retried[j].Outcomes] };
            }
        }

        foreach (var (message, e, copy, invalid, outcomes) in settled)
        {
            await SettleAsync(message.ReceiveContext, exchange, e, copy, invalid, outcomes, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Applies the events in this replica's current term and waits until the journal holds their rows. A term that
    /// ends meanwhile (its lock lost) answers false: the events are applied again in the next term, from its journal.
    /// When the service is stopping, the events are given back instead.
    /// </summary>
    private async Task<List<(ConsumeContext<T> Message, InventoryEvent? Event, EventCopy? Copy, string? Invalid, IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> Outcomes)>>
        ApplyAndJournalAsync<T>(List<(ConsumeContext<T> Message, InventoryEvent? Event, EventCopy? Copy, string? Invalid)> events, ActivityContext batch, CancellationToken ct,
            List<IReadOnlySet<string>>? only = null)
        where T : class
    {
        // In hand until journaled: a pause meanwhile is the service's own, not the end of the inflow (InflowTracker).
        inflow.Journaling();
        try
        {
            return await ApplyAndJournalOnceCommittedAsync(events, batch, ct, only).ConfigureAwait(false);
        }
        finally
        {
            inflow.Journaled();
        }
    }

    private async Task<List<(ConsumeContext<T> Message, InventoryEvent? Event, EventCopy? Copy, string? Invalid, IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> Outcomes)>>
        ApplyAndJournalOnceCommittedAsync<T>(List<(ConsumeContext<T> Message, InventoryEvent? Event, EventCopy? Copy, string? Invalid)> events, ActivityContext batch,
            CancellationToken ct, List<IReadOnlySet<string>>? only)
        where T : class
    {
        while (true)
        {
            var term = engine.Stopping ? -1 : await engine.EnsureCurrentAsync(ct).ConfigureAwait(false);
            var applied = events.Select((t, i) => (t.Message, t.Event, t.Copy, t.Invalid,
                t.Event is null ? [] : engine.Apply(t.Event, batch, t.Copy, only?[i], term))).ToList();
            foreach (var (message, _, _, _, _) in applied) inflow.Applied(message.ReceiveContext);
            var released = applied.Any(a => Has(a.Item5, OutcomeKind.Released));
            if (released && engine.Stopping) return applied;
            if (!released && await engine.CommitAsync(term, ct).ConfigureAwait(false)) return applied;
            // The term ended under the batch: applied again in the next one. Never in a tight loop: a hundred batches
            // spinning here without yielding starved the thread pool, and MassTransit never reconnected after a
            // broker restart (fault suite: not consuming 90 s after RabbitMQ was back).
            await Task.Delay(RetryPause, time, ct).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(100);

    private static bool Has(IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> outcomes, OutcomeKind kind) =>
        outcomes.Any(o => o.Outcome.IsCompletedSuccessfully && o.Outcome.Result.Kind == kind);

    private async Task SettleAsync(ReceiveContext message, string exchange, InventoryEvent? e, EventCopy? copy, string? invalid,
        IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> outcomes, CancellationToken ct)
    {
        if (invalid is not null)
        {
            await SetAsideAsync(message, exchange, "invalid-event", invalid, null, ct);
            return;
        }

        // Outcomes still running wait on Flashduty: the journal holds their rows, so the event is acknowledged.
        var done = outcomes.Where(o => o.Outcome.IsCompletedSuccessfully).Select(o => (o.SchemaId, Result: o.Outcome.Result)).ToList();
        var rejected = done.Where(o => o.Result.Kind == OutcomeKind.Rejected).ToList();
        if (rejected.Count > 0)
        {
            // Refused by a write that landed before this batch settled: its journaled copy is in the error queue already.
            if (copy is not null && rerouter.WasSetAside(copy)) return;
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

        // Its schema cannot be read yet: parked, with no time limit (the schema's probe says why in readiness).
        if (done.Any(o => o.Result.Kind == OutcomeKind.Deferred))
        {
            metrics.EventsParked.Add(1);
            await rerouter.ParkAsync(message, exchange, time.GetUtcNow(), ct);
            return;
        }

        // Not journaled, and this replica is stopping: back to the queue, for the next one.
        if (done.Any(o => o.Result.Kind == OutcomeKind.Released)) await rerouter.ReleaseAsync(message, exchange, ct);
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
