namespace FlashdutySync.Sync;

internal sealed partial class SchemaSync
{
    private const int MaxDocs = 1000;
    private const int MaxKeys = 100;

    /// <summary>No request before this (see <see cref="RunAsync"/>).</summary>
    public DateTimeOffset NotBefore { get; set; }

    /// <summary>
    /// The schema's single writer, supervised: an unexpected exception is logged, makes the service not ready, puts
    /// the rows it had in flight back in the queue, and the writer starts again after the probe interval.
    /// </summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        // The writer's requests are cancelled by the engine stopping, or by a quiesce that cannot wait any longer.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort.Token);
        var ct = linked.Token;
        // A new holder whose predecessor did not let go cleanly waits out the longest request it could still have in flight.
        var wait = NotBefore - _time.GetUtcNow();
        if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        while (true)
        {
            try
            {
                await WriteLoopAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // A write cut short is not known to have landed or not: its rows go back (a restarted or next replica writes them).
                ReturnInFlight();
                _round?.TrySetResult();
                if (stopping.IsCancellationRequested) throw;
                return;
            }
            catch (Exception ex)
            {
                PausedReason = $"its writer failed ({ex.GetType().Name}: {ex.Message}) and restarts every {_options.ProbeInterval}; please report this";
                Log.WriterFailed(_logger, Schema.SchemaId, ex);
                ReturnInFlight();
                _round?.TrySetResult();
                await Task.Delay(_options.ProbeInterval, _time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (stopping.IsCancellationRequested) throw new OperationCanceledException(stopping);
                if (ct.IsCancellationRequested) return; // aborted by a quiesce meanwhile
                _signal.Writer.TryWrite(true);
            }
        }
    }

    /// <summary>One request in flight, everything pending joins the next one.</summary>
    private async Task WriteLoopAsync(CancellationToken ct)
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
                    fine = await WriteAsync(batch, upsert, ct).ConfigureAwait(false);
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
            var deletes = _dirty.Values.Where(k => k.Pending!.Target is null);
            // Upserts first (fresher rows), unless new rows would pass the cap before the deletes make room (#13 defect 6).
            var deletesFirst = upserts.Count == 0 || (deletes.Any(k => k.Confirmed is not null) && RowsHeld() + upserts.Count(k => k.Confirmed is null) > Schema.RowCap);
            var batch = deletesFirst ? deletes.Take(MaxKeys).ToList() : upserts;
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

    /// <summary>Rows Flashduty holds as far as the service knows. Under the lock.</summary>
    private int RowsHeld() => _keys.Values.Count(k => k.Confirmed is not null);
}
