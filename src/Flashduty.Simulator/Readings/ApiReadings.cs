namespace Flashduty.Simulator;

/// <summary>
/// Which reading of the ambiguous API reference the simulator plays, one property per ambiguity; section
/// <c>Simulator:Readings</c>, changeable at run time through <c>PUT /_sim/readings</c>. Each default is the reading
/// Flashcat's Go SDK implies where it says anything, else the strictest one for a client.
/// </summary>
public sealed record ApiReadings
{
    /// <summary>The shape of a successful <c>data/download</c>. Default <see cref="DownloadFormat.Csv"/> (the Go SDK reads raw bytes). Errors are always the JSON envelope.</summary>
    public DownloadFormat DownloadFormat { get; init; } = DownloadFormat.Csv;

    /// <summary>The order of <c>data/upsert</c>'s <c>data.keys</c>. Default <see cref="KeyOrder.Shuffled"/>.</summary>
    public KeyOrder KeyOrder { get; init; } = KeyOrder.Shuffled;

    /// <summary>
    /// How a key of 2–3 source values is spelled, in <c>data/upsert</c>'s keys, <c>data/list</c>'s <c>items[].key</c> and
    /// what <c>data/delete</c> accepts. Default <see cref="KeySpelling.Hash"/>. Changing it at run time re-spells the stored keys.
    /// </summary>
    public KeySpelling MultiLabelKeySpelling { get; init; } = KeySpelling.Hash;

    /// <summary>How a concurrent write to a schema being written is refused. Default <see cref="LockConflict.TooFrequently429"/>.</summary>
    public LockConflict LockConflict { get; init; } = LockConflict.TooFrequently429;

    /// <summary>
    /// The code of a <c>data/*</c> call on a schema id that does not exist. Default <see cref="MissingSchemaCode.InvalidParameter"/>.
    /// <c>schema/info</c> answers <c>data: null</c> either way, as documented.
    /// </summary>
    public MissingSchemaCode MissingSchemaCode { get; init; } = MissingSchemaCode.InvalidParameter;

    /// <summary>How the 2,048 limit on a value is counted. Default <see cref="ValueLimitUnit.Utf8Bytes"/>.</summary>
    public ValueLimitUnit ValueLimitUnit { get; init; } = ValueLimitUnit.Utf8Bytes;

    /// <summary>What <c>data/delete</c> does with an unknown key. Default <see cref="UnknownKeyDelete.Ignore"/>.</summary>
    public UnknownKeyDelete UnknownKeyDelete { get; init; } = UnknownKeyDelete.Ignore;

    /// <summary>
    /// A request body larger than this many bytes is answered 413 <c>EntityTooLarge</c> without effect. Default 0 (off);
    /// range 0 to <see cref="int.MaxValue"/>.
    /// </summary>
    public int MaxBodyBytes { get; init; }

    /// <summary>Seed of the random source behind <see cref="KeyOrder.Shuffled"/>, so that a run can be repeated. Default null: unseeded.</summary>
    public int? Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        Check(DownloadFormat, nameof(DownloadFormat));
        Check(KeyOrder, nameof(KeyOrder));
        Check(MultiLabelKeySpelling, nameof(MultiLabelKeySpelling));
        Check(LockConflict, nameof(LockConflict));
        Check(MissingSchemaCode, nameof(MissingSchemaCode));
        Check(ValueLimitUnit, nameof(ValueLimitUnit));
        Check(UnknownKeyDelete, nameof(UnknownKeyDelete));
        if (MaxBodyBytes < 0) throw new ArgumentException($"{nameof(MaxBodyBytes)} is {MaxBodyBytes}; it must be 0 (off) or more", nameof(MaxBodyBytes));
    }

    private static void Check<T>(T value, string name) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw new ArgumentException($"{name} is {value}; it must be one of {string.Join(", ", Enum.GetNames<T>())}", name);
    }
}
