using System.Security.Cryptography;
using System.Text;

namespace Flashduty.Simulator;

/// <summary>One mapping schema and its rows. Guarded by its own lock; writes also take <see cref="TryEnterWrite"/>.</summary>
public sealed class SimSchema
{
    private int _writeHeld;
    private int _concurrentWrites;
    private int _maxConcurrentWrites;
    private long _seq;

    public required string SchemaId { get; init; }
    public required string SchemaName { get; init; }
    public string Description { get; init; } = "";
    public required IReadOnlyList<string> SourceLabels { get; init; }
    public required IReadOnlyList<string> ResultLabels { get; init; }
    public long TeamId { get; init; }
    public required int RowCap { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }

    internal Dictionary<string, SimRow> Rows { get; } = new(StringComparer.Ordinal);
    internal object Sync { get; } = new();

    public IEnumerable<string> AllLabels => SourceLabels.Concat(ResultLabels);

    /// <summary>The highest number of writes to this schema seen in progress at once (refused ones included).</summary>
    public int MaxConcurrentWrites => Volatile.Read(ref _maxConcurrentWrites);

    public int RowCount { get { lock (Sync) { return Rows.Count; } } }

    /// <summary>
    /// How the simulator spells a row key: a one-label schema's key is its value; several values are spelled as
    /// <paramref name="spelling"/> says (joined by ',', or an opaque hash).
    /// </summary>
    public string KeyOf(IReadOnlyDictionary<string, string> fields, KeySpelling spelling)
    {
        ArgumentNullException.ThrowIfNull(fields);
        if (SourceLabels.Count == 1) return fields[SourceLabels[0]];
        var values = SourceLabels.Select(l => fields[l]);
        if (spelling == KeySpelling.Comma) return string.Join(',', values);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u001f', values)));
        return Convert.ToHexStringLower(hash.AsSpan(0, 12));
    }

    /// <summary>Spells every stored key anew, after the account's spelling changed.</summary>
    internal void Respell(KeySpelling spelling)
    {
        if (SourceLabels.Count == 1) return;
        lock (Sync)
        {
            var rows = Rows.Values.ToList();
            Rows.Clear();
            foreach (var row in rows)
            {
                var key = KeyOf(row.Fields, spelling);
                Rows[key] = row with { Key = key };
            }
        }
    }

    internal void WriteArrived()
    {
        var now = Interlocked.Increment(ref _concurrentWrites);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxConcurrentWrites)) &&
               Interlocked.CompareExchange(ref _maxConcurrentWrites, now, seen) != seen)
        {
        }
    }

    internal void WriteLeft() => Interlocked.Decrement(ref _concurrentWrites);

    internal bool TryEnterWrite() => Interlocked.CompareExchange(ref _writeHeld, 1, 0) == 0;

    internal void ExitWrite() => Volatile.Write(ref _writeHeld, 0);

    internal long NextSeq() => ++_seq;

    internal void ResetCounters() => Volatile.Write(ref _maxConcurrentWrites, 0);

    public IReadOnlyList<SimRow> Snapshot()
    {
        lock (Sync)
        {
            return Rows.Values.OrderBy(r => r.Seq).Select(r => r with { Fields = new Dictionary<string, string>(r.Fields) }).ToList();
        }
    }
}

/// <summary>A stored row.</summary>
public sealed record SimRow(string Key, IReadOnlyDictionary<string, string> Fields, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Seq);
