namespace Flashduty.Simulator;

/// <summary>
/// A success answered as a raw body instead of the JSON envelope (a handler returns it as its data):
/// the bytes, their content type, and the file name for <c>Content-Disposition: attachment</c> (null: no disposition).
/// </summary>
internal sealed record RawBody(byte[] Content, string ContentType, string? FileName);
