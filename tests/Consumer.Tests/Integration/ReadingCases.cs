using Flashduty.Simulator;

namespace FlashdutySync.Tests.Integration;

/// <summary>Every reading the simulator can play, each a change from its defaults, by a name a test report can show.</summary>
internal static class ReadingCases
{
    private static readonly Dictionary<string, Func<ApiReadings, ApiReadings>> Cases = new()
    {
        ["defaults"] = r => r,
        ["download Envelope"] = r => r with { DownloadFormat = DownloadFormat.Envelope },
        ["download CsvBom"] = r => r with { DownloadFormat = DownloadFormat.CsvBom },
        ["download OctetStream"] = r => r with { DownloadFormat = DownloadFormat.OctetStream },
        ["keys in docs order"] = r => r with { KeyOrder = KeyOrder.Docs },
        ["multi-label keys Comma"] = r => r with { MultiLabelKeySpelling = KeySpelling.Comma },
        ["lock conflict 423"] = r => r with { LockConflict = LockConflict.Locked423 },
        ["missing schema ResourceNotFound"] = r => r with { MissingSchemaCode = MissingSchemaCode.ResourceNotFound },
        ["value limit in characters"] = r => r with { ValueLimitUnit = ValueLimitUnit.Characters },
        ["unknown-key delete refused"] = r => r with { UnknownKeyDelete = UnknownKeyDelete.Refuse },
    };

    public static IEnumerable<string> Names => Cases.Keys;

    public static ApiReadings Apply(string name, ApiReadings readings) => Cases[name](readings);
}
