using System.Diagnostics;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Sync;

/// <summary>What becomes of a write's rows and events once Flashduty has answered.</summary>
internal sealed partial class SchemaSync
{
    private void Succeeded(List<KeyState> batch, string[]? keys, string? requestId)
    {
        var now = _time.GetUtcNow();
        var waiters = 0;
        lock (_sync)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var state = batch[i];
                var write = state.InFlight!;
                state.Confirmed = write.Target;
                state.RemoteKey = write.Target is null ? null : keys?[i] ?? state.RemoteKey;
                state.InFlight = null;
                RepairLanded(state);
                CopiesSettled(state);
                foreach (var waiter in write.Waiters)
                {
                    _metrics.Freshness.Record((now - waiter.OccurredAt).TotalSeconds);
                    waiter.Complete(new KeyOutcome(OutcomeKind.Applied, RequestId: requestId));
                }

                waiters += write.Waiters.Count;
            }

            CheckFill();
        }

        _metrics.EventsPerRequest.Record(waiters);
        if (PausedReason is not null)
        {
            Log.Resumed(_logger, Schema.SchemaId);
            PausedReason = null;
        }
    }

    /// <summary>
    /// Flashduty refused the row: every event behind it since its last write goes to the error queue with Flashduty's
    /// code, message and request_id — also an older event whose labels a newer one overwrote (#13 defect 3: it was
    /// acknowledged as superseded, and its value lost with the newer one). Only then is the row's journal record
    /// told that it needs their copies no more.
    /// </summary>
    private async Task RejectedAsync(KeyState state, FlashdutyApiException ex, CancellationToken ct)
    {
        var reason = $"Flashduty refused row '{Display(state.Key)}' of schema {Schema.SchemaId}: {ex.Code} {ex.ErrorMessage} (request_id {ex.RequestId})";
        var outcome = new KeyOutcome(OutcomeKind.Rejected, reason, ex.RequestId, ex.Code);
        Log.RowRefused(_logger, Schema.SchemaId, ex.Code, ex.ErrorMessage, ex.RequestId);
        var done = new HashSet<Waiter>();
        while (true)
        {
            // Events that join the refused write meanwhile (their row is the same) are refused with it: the row is
            // settled in the same lock that finds no newcomer.
            List<Waiter> newcomers;
            lock (_sync)
            {
                newcomers = state.InFlight!.Waiters.Where(w => !done.Contains(w)).ToList();
                if (newcomers.Count == 0)
                {
                    var wasLive = state.Latest is not null;
                    state.InFlight = null;
                    // Forget the refused values; what Flashduty holds stays the truth for the next event. Not for a drift
                    // repair no event waits on: the row is still what the events set (its next run tries again, and logs).
                    if (state.Repair == RepairKind.None || done.Count > 0)
                    {
                        foreach (var label in _labels)
                        {
                            state.Labels[label] = state.Labels.GetValueOrDefault(label) with { Value = state.Confirmed?.GetValueOrDefault(label) };
                        }
                    }

                    state.Repair = RepairKind.None;

                    _projectedRows += (state.Latest is not null ? 1 : 0) - (wasLive ? 1 : 0);
                    CopiesSettled(state);
                    foreach (var waiter in done) waiter.Complete(outcome);
                    return;
                }
            }

            foreach (var copy in newcomers.Select(w => w.Copy).OfType<EventCopy>().DistinctBy(c => c.Identity))
            {
                await _refused.SetAsideAsync(copy, Schema.SchemaId, outcome, ct).ConfigureAwait(false);
            }

            done.UnionWith(newcomers);
        }
    }

    /// <summary>Puts the batch back in the queue (newer pending values win) and records why writes stopped.</summary>
    private bool Failed(List<KeyState> batch, FlashdutyApiException ex, string? pauseReason = null)
    {
        lock (_sync) RequeueInFlight(batch);

        if (pauseReason is not null && PausedReason != pauseReason)
        {
            PausedReason = pauseReason;
            Log.Paused(_logger, Schema.SchemaId, pauseReason, ex.RequestId);
        }
        else if (pauseReason is null)
        {
            Log.WriteFailed(_logger, Schema.SchemaId, ex.Endpoint, ex.Status, ex.Code, ex.RequestId, _options.ProbeInterval);
        }

        return false;
    }

    /// <summary>Puts writes in flight back in the queue (newer pending values win). Under the lock.</summary>
    private void RequeueInFlight(IEnumerable<KeyState> inFlight)
    {
        // What the key will hold once written does not change, so the projected row count does not either.
        foreach (var state in inFlight)
        {
            var write = state.InFlight!;
            state.InFlight = null;
            if (state.Pending is { } newer) newer.Waiters.AddRange(write.Waiters);
            else state.Pending = write;
            if (_dirty.Count == 0) _oldestPending = _time.GetTimestamp();
            _dirty[state.Key] = state;
        }
    }

    /// <summary>After the writer failed: every row it had in flight is queued again, none stranded.</summary>
    private void ReturnInFlight()
    {
        lock (_sync) RequeueInFlight(_keys.Values.Where(k => k.InFlight is not null).ToList());
    }

    private void CheckFill()
    {
        var full = _projectedRows >= _options.FillWarning * Schema.RowCap;
        if (full && !_warnedFull) Log.NearlyFull(_logger, Schema.SchemaId, _projectedRows, Schema.RowCap);
        _warnedFull = full;
    }

    private static List<ActivityLink> Links(List<KeyState> batch) =>
        batch.SelectMany(k => k.InFlight!.Waiters).Select(w => w.Batch).Where(c => c != default).Distinct().Select(c => new ActivityLink(c)).ToList();
}
