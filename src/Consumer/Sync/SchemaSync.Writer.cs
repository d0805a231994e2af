using System.Diagnostics;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Sync;

internal sealed partial class SchemaSync
{
    private const int MaxDocs = 1000;
    private const int MaxKeys = 100;

    /// <summary>The schema's single writer: one request in flight, everything pending joins the next one.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (await _signal.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            _signal.Reader.TryRead(out _);
            await UntilWorthWritingAsync(ct).ConfigureAwait(false);
            // A round writes what is pending now, in as many requests as that takes. Rows changed meanwhile wait for
            // the next round, which asks again whether it is worth writing yet: looping on them at once sent a
            // train of requests of a few dozen docs each while a backlog drained (measured).
            int left;
            lock (_sync) left = _dirty.Count;
            while (left > 0 && !ct.IsCancellationRequested && TakeBatch() is { Count: > 0 } batch)
            {
                left -= batch.Count;
                var upsert = batch[0].InFlight!.Target is not null;
                bool fine;
                try
                {
                    fine = upsert ? await UpsertAsync(batch, ct).ConfigureAwait(false) : await DeleteAsync(batch, ct).ConfigureAwait(false);
                }
                finally
                {
                    _round?.TrySetResult();
                }

                if (!fine)
                {
                    // Flashduty is down or refuses the key: the rows are queued again; the next attempt is the probe.
                    await Task.Delay(_options.ProbeInterval, _time, ct).ConfigureAwait(false);
                    lock (_sync) left = _dirty.Count;
                }
            }

            _lastRoundEnded = _time.GetTimestamp();
            await SaveStampsOnlyAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Events that changed label times but not the row Flashduty holds: their times are saved, then they settle.</summary>
    private async Task SaveStampsOnlyAsync(CancellationToken ct)
    {
        List<(KeyState State, Waiter Waiter)> taken;
        lock (_sync)
        {
            if (_stampsOnly.Count == 0) return;
            (taken, _stampsOnly) = (_stampsOnly, []);
        }

        await SaveStampsAsync(taken.Select(t => t.State).Distinct().ToList(), ct).ConfigureAwait(false);
        lock (_sync)
        {
            foreach (var (state, waiter) in taken)
            {
                waiter.Complete(KeyOutcome.Applied);
                state.Holders.Remove(waiter);
            }
        }
    }

    /// <summary>
    /// Holds the first write of a round while events are still coming in, so that they coalesce, but never longer
    /// than <see cref="SyncOptions.MaxWriteDelay"/> after the oldest pending change. At light load the inflow is
    /// quiet as soon as the event is applied: the write goes at once.
    /// </summary>
    private async Task UntilWorthWritingAsync(CancellationToken ct)
    {
        if (_inflow.IsDrained) return;
        if (_inflow.IsBlocked)
        {
            // Slots full right after a round are mostly batches the round has just settled, still returning: writing
            // at once sent a train of requests of a few dozen docs each (measured on a 100k backlog). Let them go and
            // new events come in first; a round ends at most once per stream quiet period this way.
            var settle = _options.StreamQuietPeriod - _time.GetElapsedTime(_lastRoundEnded);
            if (settle > TimeSpan.Zero) await Task.Delay(settle, _time, ct).ConfigureAwait(false);
            if (_inflow.IsQuiet) return;
        }

        long oldest;
        lock (_sync) oldest = _oldestPending;
        var left = _options.MaxWriteDelay - _time.GetElapsedTime(oldest);
        if (left <= TimeSpan.Zero) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(left);
        await _inflow.WhenQuietAsync(timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>Moves up to one request's worth of pending writes in flight: upserts first, then deletes.</summary>
    private List<KeyState> TakeBatch()
    {
        lock (_sync)
        {
            if (_stopping) return [];
            var upserts = _dirty.Values.Where(k => k.Pending!.Target is not null).Take(MaxDocs).ToList();
            var batch = upserts.Count > 0 ? upserts : _dirty.Values.Take(MaxKeys).ToList();
            foreach (var state in batch)
            {
                state.InFlight = state.Pending;
                state.Pending = null;
                _dirty.Remove(state.Key);
            }

            // Set under the lock that QuiesceAsync takes: a stopping replica waits for exactly this write.
            if (batch.Count > 0) _round = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return batch;
        }
    }

    private async Task<bool> UpsertAsync(List<KeyState> batch, CancellationToken ct)
    {
        var docs = batch.Select(k => k.InFlight!.Target!).ToList();
        try
        {
            var (keys, requestId) = await _api.UpsertAsync(Schema.SchemaId, docs, Links(batch), ct).ConfigureAwait(false);
            await SaveStampsAsync(batch, ct).ConfigureAwait(false);
            Succeeded(batch, keys, requestId);
            _metrics.RowsSent.Add(batch.Count, new KeyValuePair<string, object?>("operation", "upsert"));
            return true;
        }
        catch (FlashdutyApiException ex) when (ex.IsInvalidParameter)
        {
            return await IsolateAsync(batch, ex, UpsertAsync, ct).ConfigureAwait(false);
        }
        catch (FlashdutyApiException ex)
        {
            return Failed(batch, ex);
        }
    }

    private async Task<bool> DeleteAsync(List<KeyState> batch, CancellationToken ct)
    {
        try
        {
            var keys = new List<string>(batch.Count);
            foreach (var state in batch)
            {
                state.RemoteKey ??= Schema.SourceLabels.Count == 1 ? state.Key : await FindKeyAsync(state, ct).ConfigureAwait(false);
                if (state.RemoteKey is not null) keys.Add(state.RemoteKey);
            }

            string? requestId = null;
            if (keys.Count > 0) requestId = await _api.DeleteAsync(Schema.SchemaId, keys, Links(batch), ct).ConfigureAwait(false);
            await SaveStampsAsync(batch, ct).ConfigureAwait(false);
            Succeeded(batch, null, requestId);
            _metrics.RowsSent.Add(keys.Count, new KeyValuePair<string, object?>("operation", "delete"));
            return true;
        }
        catch (FlashdutyApiException ex) when (ex.IsInvalidParameter)
        {
            return await IsolateAsync(batch, ex, DeleteAsync, ct).ConfigureAwait(false);
        }
        catch (FlashdutyApiException ex)
        {
            return Failed(batch, ex);
        }
    }

    private async Task<string?> FindKeyAsync(KeyState state, CancellationToken ct)
    {
        var values = state.Confirmed ?? throw new InvalidOperationException("a delete of a row the service never saw");
        return await _api.FindKeyAsync(Schema.SchemaId, Schema.SourceLabels.ToDictionary(l => l, l => values[l]), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A 400 names a bad row or a bad request. First make sure the schema still exists; then split the rows in
    /// halves until the refused ones stand alone: about 2·log2(rows) extra requests for one bad row.
    /// </summary>
    private async Task<bool> IsolateAsync(List<KeyState> batch, FlashdutyApiException ex, Func<List<KeyState>, CancellationToken, Task<bool>> write,
        CancellationToken ct)
    {
        if (!await SchemaExistsAsync(ct).ConfigureAwait(false))
        {
            return Failed(batch, ex, $"schema {Schema.SchemaId} no longer exists in Flashduty: create it again or remove it from Flashduty:SchemaIds");
        }

        if (batch.Count == 1)
        {
            Rejected(batch[0], ex);
            return true;
        }

        var half = batch.Count / 2;
        var first = await write(batch[..half], ct).ConfigureAwait(false);
        return first && await write(batch[half..], ct).ConfigureAwait(false);
    }

    private async Task<bool> SchemaExistsAsync(CancellationToken ct)
    {
        try
        {
            return await _api.GetSchemaInfoAsync(Schema.SchemaId, ct).ConfigureAwait(false) is not null;
        }
        catch (FlashdutyApiException)
        {
            return true;
        }
    }

    /// <summary>
    /// Saves when the written rows' labels were set, before their events are acknowledged. A label may already be
    /// newer than the write (an event applied since): that event is still unacknowledged, so it is re-applied after a
    /// crash either way. If the store fails, the events are acknowledged all the same (the rows are in Flashduty);
    /// only the protection against stale redeliveries of these rows is weaker until their next write.
    /// </summary>
    private async Task SaveStampsAsync(List<KeyState> batch, CancellationToken ct)
    {
        List<(string, RowStamps)> rows;
        lock (_sync)
        {
            rows = batch.Select(k => (k.Key, new RowStamps(k.Labels.ToDictionary(l => l.Key, l => l.Value.At, StringComparer.Ordinal), k.DeletedAt))).ToList();
        }

        try
        {
            await _stamps.SaveAsync(Schema.SchemaId, rows, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StampsNotSaved(_logger, Schema.SchemaId, rows.Count, ex.Message);
        }
    }

    private void Succeeded(List<KeyState> batch, IReadOnlyList<string>? keys, string? requestId)
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
                state.RemoteKey = write.Target is null ? null : keys is not null && i < keys.Count ? keys[i] : state.RemoteKey;
                state.InFlight = null;
                state.Holders.ExceptWith(write.Waiters);
                foreach (var waiter in write.Waiters)
                {
                    _metrics.Freshness.Record((now - waiter.OccurredAt).TotalMilliseconds);
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

    private void Rejected(KeyState state, FlashdutyApiException ex)
    {
        lock (_sync)
        {
            var write = state.InFlight!;
            var wasLive = state.Latest is not null;
            state.InFlight = null;
            state.Holders.ExceptWith(write.Waiters);
            // Forget the refused values; what Flashduty holds stays the truth for the next event.
            foreach (var label in Schema.AllLabels)
            {
                state.Labels[label] = state.Labels.GetValueOrDefault(label) with { Value = state.Confirmed?.GetValueOrDefault(label) };
            }

            _projectedRows += (state.Latest is not null ? 1 : 0) - (wasLive ? 1 : 0);
            var reason = $"Flashduty refused row '{Display(state.Key)}' of schema {Schema.SchemaId}: {ex.Code} {ex.ErrorMessage} (request_id {ex.RequestId})";
            foreach (var waiter in write.Waiters) waiter.Complete(new KeyOutcome(OutcomeKind.Rejected, reason, ex.RequestId, ex.Code));
        }

        Log.RowRefused(_logger, Schema.SchemaId, ex.Code, ex.ErrorMessage, ex.RequestId);
    }

    /// <summary>Puts the batch back in the queue (newer pending values win) and records why writes stopped.</summary>
    private bool Failed(List<KeyState> batch, FlashdutyApiException ex, string? pauseReason = null)
    {
        lock (_sync)
        {
            // What the key will hold once written does not change, so the projected row count does not either.
            foreach (var state in batch)
            {
                var write = state.InFlight!;
                state.InFlight = null;
                if (state.Pending is { } newer) newer.Waiters.AddRange(write.Waiters);
                else state.Pending = write;
                _dirty[state.Key] = state;
            }
        }

        if (ex.IsAuthFailure)
        {
            pauseReason = ex.Status == 401
                ? "Flashduty refuses the app key (401): set a valid key in Flashduty__AppKey"
                : "the app key lacks the \"Mappings Manage\" permission (403): grant it to the key's account in Flashduty";
        }

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

    private void CheckFill()
    {
        var full = _projectedRows >= _options.FillWarning * Schema.RowCap;
        if (full && !_warnedFull) Log.NearlyFull(_logger, Schema.SchemaId, _projectedRows, Schema.RowCap);
        _warnedFull = full;
    }

    private static List<ActivityLink> Links(List<KeyState> batch) =>
        batch.SelectMany(k => k.InFlight!.Waiters).Select(w => w.Batch).Where(c => c != default).Distinct().Select(c => new ActivityLink(c)).ToList();
}
