namespace FlashdutySync.Sync;

internal sealed partial class SchemaSync
{
    private const int MaxDocs = WritePolicy.FullRequest;
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
        var reconciling = ReconcileEveryIntervalAsync(ct);
        try
        {
            await WriteUntilEndAsync(stopping, ct).ConfigureAwait(false);
        }
        finally
        {
            // Comparisons asked for and not served: the term ended first.
            while (_reconciles.Reader.TryRead(out var asked)) asked.Done.TrySetCanceled(CancellationToken.None);
            await reconciling.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task WriteUntilEndAsync(CancellationToken stopping, CancellationToken ct)
    {
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

    /// <summary>One request in flight; what is pending is written when <see cref="WritePolicy"/> says so, a full request at a time.</summary>
    private async Task WriteLoopAsync(CancellationToken ct)
    {
        while (await _signal.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            _signal.Reader.TryRead(out _);
            while (!ct.IsCancellationRequested && await ReconciledAsync(ct).ConfigureAwait(false) && await UntilWorthWritingAsync(ct).ConfigureAwait(false) &&
                   TakeBatch() is { Count: > 0 } batch)
            {
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

                // Flashduty is down or refuses the key: the rows are queued again; the next attempt is the probe.
                if (!fine) await Task.Delay(_options.ProbeInterval, _time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Serves the comparisons asked for (see the Reconcile part) between writes: always true.</summary>
    private async Task<bool> ReconciledAsync(CancellationToken ct)
    {
        await ServeReconcilesAsync(ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>Waits until <see cref="WritePolicy"/> says to write; false when nothing is pending.</summary>
    private async Task<bool> UntilWorthWritingAsync(CancellationToken ct)
    {
        while (true)
        {
            int pending;
            long oldest;
            double revisited;
            TaskCompletionSource full;
            lock (_sync)
            {
                pending = _dirty.Count;
                oldest = _oldestPending;
                revisited = _revisits.Share;
                full = _full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            var wait = WritePolicy.Wait(pending, _time.GetElapsedTime(oldest), _inflow.IsDrained, _options.MaxWriteDelay, revisited);
            if (wait == Timeout.InfiniteTimeSpan) return false;
            if (wait == TimeSpan.Zero) return true;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            await Task.WhenAny(_inflow.WhenDrainedAsync(stop.Token), full.Task, Task.Delay(wait, _time, stop.Token)).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
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
            if (batch.Count > 0)
            {
                _revisits.Written();
                _round = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            return batch;
        }
    }

    /// <summary>Rows Flashduty holds as far as the service knows. Under the lock.</summary>
    private int RowsHeld() => _keys.Values.Count(k => k.Confirmed is not null);
}
