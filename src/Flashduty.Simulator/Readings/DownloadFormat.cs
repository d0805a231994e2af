using System.Text.Json.Serialization;

namespace Flashduty.Simulator;

/// <summary>How <c>data/download</c> answers: the reference's schema, its text and Flashcat's Go SDK disagree.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DownloadFormat>))]
public enum DownloadFormat
{
    /// <summary>The JSON envelope with the CSV text (CRLF line ends) as <c>data</c>, as the reference's schema shows.</summary>
    Envelope,

    /// <summary>The raw CSV: <c>text/csv; charset=utf-8</c>, <c>Content-Disposition: attachment</c>, CRLF line ends, no BOM.</summary>
    Csv,

    /// <summary>As <see cref="Csv"/>, with a UTF-8 byte order mark first.</summary>
    CsvBom,

    /// <summary>The raw CSV as <c>application/octet-stream</c>, LF line ends, no BOM.</summary>
    OctetStream,
}
