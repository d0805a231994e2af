namespace FlashdutySync.Flashduty;

/// <summary>
/// <c>data/download</c> answered something that is not the schema's rows in any shape the reference allows. Never
/// taken for an empty schema: the schema is kept from writing until a download reads.
/// </summary>
public sealed class DownloadFormatException(string message) : Exception(message);
