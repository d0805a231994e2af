using FlashdutySync.Flashduty;

namespace FlashdutySync.Sync;

internal sealed partial class SchemaSync
{
    /// <summary>Whether a one-label schema's keys are its values: null until an answer shows it.</summary>
    private bool? _keysAreValues;

    private bool _warnedKeys;

    /// <summary>
    /// Writes the batch, isolating what Flashduty refuses: a 400 <c>InvalidParameter</c> is split until the refused
    /// rows stand alone (about 2·log2(rows) extra requests for one bad row; <c>schema/info</c> asked once, first, in
    /// case the refusal means the schema is gone), a 413 is split until the parts fit. Any other failure puts every
    /// row not yet written back in the queue. Returns false when writes should pause before the next try.
    /// </summary>
    private async Task<bool> WriteAsync(List<KeyState> batch, bool upsert, CancellationToken ct)
    {
        var work = new Stack<List<KeyState>>();
        work.Push(batch);
        var schemaChecked = false;
        while (work.TryPop(out var part))
        {
            // A stopping replica starts no request: what is left goes back, unwritten and unsettled.
            if (_stopping)
            {
                lock (_sync) RequeueInFlight(Remaining(part, work));
                return true;
            }

            var ex = upsert ? await TryUpsertAsync(part, ct).ConfigureAwait(false) : await TryDeleteAsync(part, ct).ConfigureAwait(false);
            if (ex is null) continue;
            // ResourceNotFound names any missing entity: on an upsert the schema, on a delete perhaps a row already gone.
            if (ex.Kind == FlashdutyErrorKind.NotFound && upsert) return Failed(Remaining(part, work), ex, GoneReason($"Flashduty answers {ex.Code}"));
            var refused = ex.Kind is FlashdutyErrorKind.InvalidRequest or FlashdutyErrorKind.NotFound;
            if (!refused && ex.Kind != FlashdutyErrorKind.TooLarge) return Failed(Remaining(part, work), ex, FlashdutyErrors.OperatorAction(ex.Kind, ex.Code));
            if (refused && !schemaChecked)
            {
                schemaChecked = true;
                var exists = await SchemaStillExistsAsync(ct).ConfigureAwait(false);
                if (exists is null) return Failed(Remaining(part, work), ex);
                if (exists == false) return Failed(Remaining(part, work), ex, GoneReason("schema/info answers that it does not exist"));
            }

            if (part.Count > 1)
            {
                work.Push(part[(part.Count / 2)..]);
                work.Push(part[..(part.Count / 2)]);
            }
            else if (!upsert && refused && await RowIsGoneAsync(part[0], ct).ConfigureAwait(false))
            {
                // A refused delete of a key Flashduty does not hold (undocumented either way): the row is gone, as wanted.
                Succeeded(part, null, ex.RequestId);
            }
            else
            {
                await RejectedAsync(part[0], ex, ct).ConfigureAwait(false);
            }
        }

        return true;
    }

    private static List<KeyState> Remaining(List<KeyState> part, Stack<List<KeyState>> work) => [.. part, .. work.SelectMany(p => p)];

    private string GoneReason(string why) =>
        $"schema {Schema.SchemaId} no longer exists in Flashduty ({why}): create it again or remove it from Flashduty:SchemaIds";

    private async Task<FlashdutyApiException?> TryUpsertAsync(List<KeyState> batch, CancellationToken ct)
    {
        var docs = batch.Select(k => k.InFlight!.Target!).ToList();
        try
        {
            var (keys, requestId) = await _api.UpsertAsync(Schema.SchemaId, docs, Links(batch), ct).ConfigureAwait(false);
            Succeeded(batch, KeysOf(docs, keys, requestId), requestId);
            _metrics.RowsSent.Add(batch.Count, new("schema_id", Schema.SchemaId), new("operation", "upsert"));
            return null;
        }
        catch (FlashdutyApiException ex)
        {
            return ex;
        }
    }

    private async Task<FlashdutyApiException?> TryDeleteAsync(List<KeyState> batch, CancellationToken ct)
    {
        try
        {
            var keys = new List<string>(batch.Count);
            foreach (var state in batch)
            {
                if (await RemoteKeyAsync(state, ct).ConfigureAwait(false) is { } key) keys.Add(key);
            }

            string? requestId = null;
            if (keys.Count > 0) requestId = await _api.DeleteAsync(Schema.SchemaId, keys, Links(batch), ct).ConfigureAwait(false);
            Succeeded(batch, null, requestId);
            _metrics.RowsSent.Add(keys.Count, new("schema_id", Schema.SchemaId), new("operation", "delete"));
            return null;
        }
        catch (FlashdutyApiException ex)
        {
            return ex;
        }
    }

    /// <summary>The key Flashduty spells for the row: learnt from an upsert's answer, or asked of <c>data/list</c>; null when it holds no such row.</summary>
    private async Task<string?> RemoteKeyAsync(KeyState state, CancellationToken ct)
    {
        if (state.RemoteKey is { } known) return known;
        var oneLabel = Schema.SourceLabels.Count == 1;
        if (oneLabel && _keysAreValues == true) return state.Key;
        var found = await _api.FindKeyAsync(Schema.SchemaId, SourceValues(state.Key), ct).ConfigureAwait(false);
        if (oneLabel && found is not null) _keysAreValues = found == state.Key;
        // Kept: a split delete asks again for none of them. Cleared when the row is deleted.
        state.RemoteKey = found;
        return found;
    }

    private async Task<bool> RowIsGoneAsync(KeyState state, CancellationToken ct)
    {
        try
        {
            return await _api.FindKeyAsync(Schema.SchemaId, SourceValues(state.Key), ct).ConfigureAwait(false) is null;
        }
        catch (FlashdutyApiException)
        {
            return false;
        }
    }

    private Dictionary<string, string> SourceValues(string key)
    {
        var parts = Schema.SourceLabels.Count == 1 ? [key] : key.Split(Separator);
        return Schema.SourceLabels.Select((l, i) => (l, parts[i])).ToDictionary(p => p.l, p => p.Item2, StringComparer.Ordinal);
    }

    /// <summary>The docs' keys when the answer proves them (see <see cref="UpsertKeys"/>); said once per schema when it does not.</summary>
    private string[]? KeysOf(List<IReadOnlyDictionary<string, string>> docs, IReadOnlyList<string> keys, string? requestId)
    {
        var matched = UpsertKeys.Match(Schema.SourceLabels, docs, keys);
        if (Schema.SourceLabels.Count == 1) _keysAreValues = matched is not null && (_keysAreValues ?? true);
        if (matched is null && !_warnedKeys)
        {
            _warnedKeys = true;
            Log.KeysDoNotFit(_logger, Schema.SchemaId, keys.Count, docs.Count, string.Join(",", keys.Take(3)), requestId);
        }

        return matched;
    }

    /// <summary>True or false when <c>schema/info</c> says; null when it could not be asked (the write is tried again later).</summary>
    private async Task<bool?> SchemaStillExistsAsync(CancellationToken ct)
    {
        try
        {
            return await _api.GetSchemaInfoAsync(Schema.SchemaId, ct).ConfigureAwait(false) is not null;
        }
        catch (FlashdutyApiException ex) when (ex.Kind == FlashdutyErrorKind.NotFound)
        {
            return false;
        }
        catch (FlashdutyApiException)
        {
            return null;
        }
    }
}
