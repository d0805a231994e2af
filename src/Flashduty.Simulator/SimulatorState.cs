using System.Collections.Concurrent;
using System.Text.Json;

namespace Flashduty.Simulator;

/// <summary>
/// The simulated account: schemas, rows, keys, limits, faults and counters. The HTTP layer and in-process
/// tests share one instance.
/// </summary>
public sealed partial class SimulatorState
{
    private static readonly HashSet<string> WriteEndpoints = ["data/upsert", "data/delete", "data/truncate", "schema/create"];
    private static readonly HashSet<string> LockedEndpoints = ["data/upsert", "data/delete", "data/truncate"];

    private readonly ConcurrentDictionary<string, SimSchema> _schemas = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _keys = new(StringComparer.Ordinal);
    private readonly SlidingWindowLog _limiter;
    private readonly SimulatorOptions _options;
    private readonly object _faultSync = new();
    private FaultOptions _faults = new();
    private Random _random = new();
    private ApiReadings _readings = new();
    private Random _readingsRandom = new();

    public SimulatorState(SimulatorOptions options, TimeProvider? time = null)
    {
        _options = options;
        Time = time ?? TimeProvider.System;
        _limiter = new SlidingWindowLog(options.PerSecond, options.PerMinute, Time);
        Stats = new SimStats(options.RecentRequests);
        foreach (var key in options.AllKeys) _keys[key] = false;
        foreach (var key in options.ReadOnlyKeys) _keys[key] = true;
        Faults = options.Faults;
        Readings = options.Readings;
    }

    public TimeProvider Time { get; }

    /// <summary>Raised after rows are stored (schema id, the rows' fields): lets a benchmark time when a change landed.</summary>
    public event Action<string, IReadOnlyList<IReadOnlyDictionary<string, string>>>? RowsStored;
    public SimStats Stats { get; }
    public IReadOnlyCollection<SimSchema> Schemas => _schemas.Values.ToList();
    public SimSchema? GetSchema(string schemaId) => _schemas.GetValueOrDefault(schemaId);

    /// <summary>The faults in force. Setting them re-seeds the random source when a seed is given.</summary>
    public FaultOptions Faults
    {
        get { lock (_faultSync) return _faults; }
        set
        {
            lock (_faultSync)
            {
                _faults = value;
                _random = value.Seed is { } seed ? new Random(seed) : new Random();
            }
        }
    }

    /// <summary>
    /// The readings of the API reference in force. Setting them validates them (<see cref="ArgumentException"/>),
    /// re-seeds their random source when a seed is given, and re-spells stored multi-label keys when the spelling changes.
    /// </summary>
    public ApiReadings Readings
    {
        get { lock (_faultSync) return _readings; }
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            bool respell;
            lock (_faultSync)
            {
                respell = value.MultiLabelKeySpelling != _readings.MultiLabelKeySpelling;
                _readings = value;
                _readingsRandom = value.Seed is { } seed ? new Random(seed) : new Random();
            }

            if (respell)
            {
                foreach (var schema in _schemas.Values) schema.Respell(value.MultiLabelKeySpelling);
            }
        }
    }

    public (int PerSecond, int PerMinute) Limits
    {
        get => (_limiter.PerSecond, _limiter.PerMinute);
        set => (_limiter.PerSecond, _limiter.PerMinute) = value;
    }

    /// <summary>Adds or changes a key; a read-only key gets 403 <c>AccessDenied</c> on writes.</summary>
    public void SetKey(string key, bool readOnly) => _keys[key] = readOnly;

    public void RemoveKey(string key) => _keys.TryRemove(key, out _);

    /// <summary>Adds a schema with a fixed id (seeding), bypassing the API's rate limit but not its rules.</summary>
    public SimSchema AddSchema(string schemaId, string name, IReadOnlyList<string> sourceLabels, IReadOnlyList<string> resultLabels,
        int? rowCap = null, string description = "")
    {
        if (!SchemaRules.IsSchemaId(schemaId)) throw new ArgumentException($"schema_id '{schemaId}' is not 24 lowercase hex characters", nameof(schemaId));
        SchemaRules.ValidateSchema(name, sourceLabels, resultLabels, description);
        var now = Time.GetUtcNow();
        var schema = new SimSchema
        {
            SchemaId = schemaId, SchemaName = name, Description = description, SourceLabels = sourceLabels.ToList(),
            ResultLabels = resultLabels.ToList(), RowCap = rowCap ?? _options.DefaultRowCap, CreatedAt = now, UpdatedAt = now,
        };
        lock (_schemas)
        {
            if (_schemas.Values.Any(s => s.SchemaName == name && s.SchemaId != schemaId))
                throw ApiError.Invalid($"schema_name '{name}' is already used by another schema");
            if (!_schemas.ContainsKey(schemaId) && _schemas.Count >= _options.MaxSchemas)
                throw ApiError.Invalid($"the account already has {_options.MaxSchemas} schemas, the most it may have");
            _schemas[schemaId] = schema;
        }

        return schema;
    }

    public bool RemoveSchema(string schemaId) => _schemas.TryRemove(schemaId, out _);

    /// <summary>Stores rows directly (seeding and tests), with the same validation as an upsert.</summary>
    public void SeedRows(string schemaId, IEnumerable<IReadOnlyDictionary<string, string>> rows)
    {
        var schema = GetSchema(schemaId) ?? throw new ArgumentException($"unknown schema '{schemaId}'", nameof(schemaId));
        var docs = rows.Select(r => JsonSerializer.SerializeToElement(r)).ToList();
        UpsertRows(schema, docs);
    }

    /// <summary>Deletes rows directly, as someone in Flashduty's console would (tests of drift repair); returns how many.</summary>
    public int RemoveRows(string schemaId, Func<IReadOnlyDictionary<string, string>, bool> which)
    {
        ArgumentNullException.ThrowIfNull(which);
        var schema = GetSchema(schemaId) ?? throw new ArgumentException($"unknown schema '{schemaId}'", nameof(schemaId));
        lock (schema.Sync)
        {
            var keys = schema.Rows.Where(r => which(r.Value.Fields)).Select(r => r.Key).ToList();
            foreach (var key in keys) schema.Rows.Remove(key);
            return keys.Count;
        }
    }

    /// <summary>Clears the counters and recent requests; with <paramref name="rows"/> also every row.</summary>
    public void Reset(bool rows = false)
    {
        Stats.Reset();
        _limiter.Reset();
        foreach (var schema in _schemas.Values)
        {
            schema.ResetCounters();
            if (rows)
            {
                lock (schema.Sync) schema.Rows.Clear();
            }
        }
    }

    /// <summary>Puts the keys in the order the <see cref="ApiReadings.KeyOrder"/> reading says.</summary>
    internal void OrderKeys(List<string> keys, KeyOrder order)
    {
        if (order != KeyOrder.Shuffled) return;
        lock (_faultSync) _readingsRandom.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keys));
    }

    internal FaultDraw DrawFault()
    {
        lock (_faultSync)
        {
            var f = _faults;
            var latency = f.LatencyMs + (f.LatencyJitterMs > 0 ? _random.Next(f.LatencyJitterMs + 1) : 0);
            var roll = _random.NextDouble();
            FaultKind kind;
            if ((roll -= f.DropRate) < 0) kind = FaultKind.Drop;
            else if ((roll -= f.HangRate) < 0) kind = FaultKind.Hang;
            else if ((roll -= f.ServerErrorRate) < 0) kind = FaultKind.ServerError;
            else if ((roll - f.ThrottleRate) < 0) kind = FaultKind.Throttle;
            else kind = FaultKind.None;
            var status = kind == FaultKind.ServerError ? new[] { 500, 502, 503 }[_random.Next(3)] : 0;
            return new FaultDraw(kind, TimeSpan.FromMilliseconds(latency), TimeSpan.FromMilliseconds(f.HangMs), status);
        }
    }
}

internal enum FaultKind { None, Drop, Hang, ServerError, Throttle }

internal sealed record FaultDraw(FaultKind Kind, TimeSpan Latency, TimeSpan Hang, int Status);
