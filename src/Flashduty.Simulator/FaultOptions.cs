namespace Flashduty.Simulator;

/// <summary>Faults the simulator injects. Rates are fractions in [0, 1] of the requests to <c>/enrichment/</c>.</summary>
public sealed record FaultOptions
{
    /// <summary>Latency added to every request, in milliseconds. Writes hold their schema lock meanwhile.</summary>
    public int LatencyMs { get; init; }

    /// <summary>Extra random latency, uniform in [0, LatencyJitterMs].</summary>
    public int LatencyJitterMs { get; init; }

    /// <summary>Fraction answered 500, 502 or 503 without any effect.</summary>
    public double ServerErrorRate { get; init; }

    /// <summary>Fraction answered 429 <c>RequestTooFrequently</c> without any effect.</summary>
    public double ThrottleRate { get; init; }

    /// <summary>Fraction that hang for <see cref="HangMs"/> before the answer (past a client's timeout), without effect.</summary>
    public double HangRate { get; init; }

    /// <summary>How long a hanging request hangs. Default 30 s.</summary>
    public int HangMs { get; init; } = 30_000;

    /// <summary>Fraction whose connection is dropped without an answer, without effect.</summary>
    public double DropRate { get; init; }

    /// <summary>
    /// A value Flashduty refuses: an upsert with a doc carrying it gets 400 <c>InvalidParameter</c> naming the doc,
    /// standing for whatever the real API may refuse that a client cannot foresee. Null: none.
    /// </summary>
    public string? RejectValue { get; init; }

    /// <summary>Seed of the random source, so that a run can be repeated. Null: unseeded.</summary>
    public int? Seed { get; init; }
}
