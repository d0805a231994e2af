namespace Flashduty.Simulator;

/// <summary>The test-only API under <c>/_sim/</c>: faults, readings, keys, limits, counters, rows. Never under <c>/enrichment/</c>.</summary>
internal static class AdminApi
{
    public static void Map(WebApplication app, SimulatorState state)
    {
        var sim = app.MapGroup("/_sim");
        sim.MapGet("/faults", () => state.Faults);
        sim.MapPut("/faults", (FaultOptions faults) =>
        {
            state.Faults = faults;
            return state.Faults;
        });
        sim.MapGet("/readings", () => state.Readings);
        sim.MapPut("/readings", (ApiReadings readings) =>
        {
            try
            {
                state.Readings = readings;
            }
            catch (ArgumentException ex)
            {
                return Results.BadRequest(new { error = ex.Message });
            }

            return Results.Ok(state.Readings);
        });
        sim.MapPut("/limits", (LimitsBody body) =>
        {
            state.Limits = (body.PerSecond, body.PerMinute);
            return Results.NoContent();
        });
        sim.MapPut("/keys/{key}", (string key, bool? readOnly) =>
        {
            state.SetKey(key, readOnly ?? false);
            return Results.NoContent();
        });
        sim.MapDelete("/keys/{key}", (string key) =>
        {
            state.RemoveKey(key);
            return Results.NoContent();
        });
        sim.MapGet("/stats", () => Results.Json(new
        {
            counters = state.Stats.ToJson(),
            readings = state.Readings,
            schemas = state.Schemas.Select(s => new { schema_id = s.SchemaId, rows = s.RowCount, row_cap = s.RowCap, max_concurrent_writes = s.MaxConcurrentWrites }),
        }));
        sim.MapGet("/requests", () => state.Stats.Recent());
        sim.MapPost("/reset", (bool? rows) =>
        {
            state.Reset(rows ?? false);
            return Results.NoContent();
        });
        sim.MapGet("/schemas/{schemaId}/rows", (string schemaId) =>
            state.GetSchema(schemaId) is { } s ? Results.Json(s.Snapshot().Select(r => r.Fields)) : Results.NotFound());
        sim.MapDelete("/schemas/{schemaId}", (string schemaId) => state.RemoveSchema(schemaId) ? Results.NoContent() : Results.NotFound());
    }

    private sealed record LimitsBody(int PerSecond, int PerMinute);
}
